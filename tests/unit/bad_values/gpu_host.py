"""One bad value per gpu_host variable and a piece of the message it must produce (input_rules/gpu_host.py)."""

BAD_VALUES = {
    "gpu_host_driver_branch": ("560", "has no nvidia-driver-pinning package"),
    "gpu_host_driver_open": ("maybe", "gpu_host_driver_open"),
    "gpu_host_driver_replace_other_branch": ("sometimes", "gpu_host_driver_replace_other_branch"),
    "gpu_host_install_recommends": ("often", "gpu_host_install_recommends"),
    "gpu_host_cuda_toolkit_install": ("perhaps", "gpu_host_cuda_toolkit_install"),
    "gpu_host_cuda_toolkit_version": ("12.9", "package suffix <major>-<minor>"),
    "gpu_host_cuda_repo_base_url": ("developer.download.nvidia.com/compute/cuda/repos", "URL without spaces"),
    "gpu_host_kernel_headers_package": ("Linux Headers", "must be a Debian package name"),
    "gpu_host_kernel_headers_meta_package": ("headers;rm", "must be a Debian package name"),
    "gpu_host_container_runtime": ("podman", "gpu_host_container_runtime"),
    "gpu_host_container_toolkit_repo_base_url": ("ftp://mirror/libnvidia-container", "URL without spaces"),
    "gpu_host_reboot_allowed": ("later", "gpu_host_reboot_allowed"),
    "gpu_host_reboot_timeout": (5, "must be in 60..7200"),
    "gpu_host_reboot_boot_time_command": ("cat /proc/sys/kernel/random/boot_id\nuptime", "one line"),
    "gpu_host_persistence_mode": ("on-ish", "gpu_host_persistence_mode"),
    "gpu_host_nvidia_smi_command": ("bin/nvidia-smi", "absolute path"),
}
# Also refused with a GPU profile that installs a CUDA 13 build (vllm 0.32.0): a branch older than 580.
BAD_WITH_CUDA13_PROFILE = {"gpu_host_driver_branch": ("570", "needs driver >= 580.65.06")}

# The profile's CUDA fields (llm_profile_overrides.vllm.*, checked by cuda_route.validate; valid on cpu-demo too).
PROFILE_BAD_VALUES = {
    "vllm.cuda_major": ("eleven", "is not a CUDA major this project knows"),
    "vllm.cuda_route": ("cu12", "is not one of default, cuda12"),
    "vllm.cuda12.vllm_version": ("0.32.0+cu130", "+cu12<minor>"),
    "vllm.cuda12.torch_version": ("2.13.0+cu130", "must be a CUDA 12 PyTorch"),
    "vllm.cuda12.index_urls": (["ftp://mirror/cu129"], "must list the pip indexes"),
}
