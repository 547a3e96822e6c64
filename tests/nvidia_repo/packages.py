"""The stand-in packages of the local NVIDIA-shaped repositories (data for build.py). TESTS ONLY.

Every package is a STAND-IN: its name, version and Depends copy NVIDIA's published metadata where an excerpt
is checked in (UPSTREAM.md, section given as ``mirrors``), and are marked ``reconstructed`` where no excerpt
was retrievable. Contents are placeholders except where a test needs behaviour (the files/ scripts).
"""

from __future__ import annotations

# The pinned branch (gpu_host's default) and a newer one offered by the same repository (UPSTREAM.md §3, §4).
BRANCHES = {"580": "580.126.20-1", "590": "590.48.01-1"}
# CUDA version each branch's nvidia-smi reports (580: CUDA 13.0, UPSTREAM.md §9; 590: reconstructed).
CUDA_OF_BRANCH = {"580": "13.0", "590": "13.1"}
KEYRING_VERSION = "1.1-1"
TOOLKIT = ("cuda-toolkit-12-9", "12.9.1-1")
CONTAINER_TOOLKIT_VERSION = "1.19.1-1"
DKMS_NAMES = {"nvidia-kernel-dkms": "nvidia-current", "nvidia-kernel-open-dkms": "nvidia-current-open"}
# Driver packages the pinning package holds to its branch (reconstructed list: UPSTREAM.md §4).
PINNED = (
    "cuda-drivers nvidia-open nvidia-driver nvidia-driver-cuda nvidia-driver-libs nvidia-kernel-dkms "
    "nvidia-kernel-open-dkms nvidia-kernel-support firmware-nvidia-gsp libcuda1 libnvidia-ml1 nvidia-smi "
    "nvidia-persistenced nvidia-settings nvidia-xconfig"
)


def _upstream(version: str) -> str:
    return version.rsplit("-", 1)[0]


def driver_packages(branch: str) -> list[dict]:
    """The Debian-style driver set of one branch in NVIDIA's debian12 repository."""
    v = BRANCHES[branch]
    u = _upstream(v)
    pkgs = [
        {
            "name": f"nvidia-driver-pinning-{branch}",
            "version": f"{branch}-1",
            "arch": "all",
            "section": "NVIDIA",
            "provides": "nvidia-driver-pinning",
            "conflicts": "nvidia-driver-pinning",
            "replaces": "nvidia-driver-pinning",
            "mirrors": "§4 apt-cache show nvidia-driver-pinning-580 (Provides/Conflicts/Replaces, Section); "
            "file path and content reconstructed",
            "summary": f"APT driver pinning file for driver branch {branch}.",
            "files": {
                f"etc/apt/preferences.d/nvidia-driver-pinning-{branch}": (
                    f"# STAND-IN (reconstructed): NVIDIA's file is not retrievable here; it holds the driver\n"
                    f"# packages to branch {branch} at priority 1000 (tests/nvidia_repo/UPSTREAM.md section 4).\n"
                    f"Package: {PINNED}\nPin: version {branch}.*\nPin-Priority: 1000\n"
                )
            },
        },
        {
            "name": "cuda-drivers",
            "version": v,
            "depends": f"nvidia-driver (>= {u}), nvidia-driver-cuda (>= {u}), nvidia-kernel-dkms (>= {u}), "
            f"nvidia-settings (>= {u}), nvidia-xconfig (>= {u})",
            "mirrors": "§3 Depends of cuda-drivers-580 on debian12 (>= without upper bound), applied to the "
            "unsuffixed meta",
            "summary": "CUDA driver meta-package (proprietary kernel modules)",
        },
        {
            "name": "nvidia-open",
            "version": v,
            "depends": f"nvidia-driver (>= {u}), nvidia-kernel-open-dkms (>= {u}), nvidia-driver-cuda (>= {u})",
            "mirrors": "§3 (debian12 metas list nvidia-open; Depends reconstructed in the style of cuda-drivers-580)",
            "summary": "NVIDIA driver meta-package (open kernel modules)",
        },
        {
            "name": "nvidia-driver",
            "version": v,
            "depends": f"nvidia-driver-libs (= {v}), nvidia-kernel-support (= {v}), firmware-nvidia-gsp (= {v}), "
            f"nvidia-kernel-open-dkms (= {v}) | nvidia-kernel-dkms (= {v})",
            "mirrors": "§3 debian12 package set pinned to one version (structure reconstructed)",
            "summary": "NVIDIA metapackage",
        },
        {
            "name": "nvidia-driver-cuda",
            "version": v,
            "depends": f"libcuda1 (= {v}), libnvidia-ml1 (= {v}), nvidia-smi (= {v})",
            "mirrors": "§3 (structure reconstructed)",
            "summary": "NVIDIA driver CUDA integration components",
        },
        {
            "name": "nvidia-driver-libs",
            "version": v,
            "depends": f"libcuda1 (= {v}), libnvidia-ml1 (= {v})",
            "mirrors": "§3",
            "summary": "NVIDIA metapackage (OpenGL/GLX/EGL/GLES libraries)",
        },
        {"name": "libcuda1", "version": v, "mirrors": "§3", "summary": "NVIDIA CUDA Driver Library"},
        {
            "name": "libnvidia-ml1",
            "version": v,
            "mirrors": "§3",
            "summary": "NVIDIA Management Library (NVML) runtime library",
        },
        {"name": "firmware-nvidia-gsp", "version": v, "mirrors": "§3", "summary": "NVIDIA GSP firmware"},
        {
            "name": "nvidia-kernel-support",
            "version": v,
            "mirrors": "§7 nvidia-blacklists-nouveau.conf (content verbatim; path without the alternative)",
            "summary": "NVIDIA binary kernel module support files",
            "files": {
                "etc/nvidia/nvidia-blacklists-nouveau.conf": (
                    '# You need to run "update-initramfs -u" after editing this file.\n\n'
                    "# see #580894\nblacklist nouveau\n"
                )
            },
        },
        {
            "name": "nvidia-smi",
            "version": v,
            "depends": f"libnvidia-ml1 (= {v})",
            "mirrors": "§3 (package name and version); behaviour of files/nvidia-smi",
            "summary": "NVIDIA System Management Interface",
            "scripts": {"usr/bin/nvidia-smi": "nvidia-smi"},
        },
        {
            "name": "nvidia-persistenced",
            "version": v,
            "mirrors": "§7 unit of nvidia-persistenced (Type changed to simple for the stand-in daemon)",
            "summary": "daemon to maintain persistent software state in the NVIDIA driver",
            "scripts": {"usr/bin/nvidia-persistenced": "nvidia-persistenced"},
            "files": {
                "lib/systemd/system/nvidia-persistenced.service": (
                    "# STAND-IN unit (tests/nvidia_repo): NVIDIA's unit with Type=simple for the stand-in daemon\n"
                    "[Unit]\nDescription=NVIDIA Persistence Daemon\nAfter=syslog.target\n\n"
                    "[Service]\nType=simple\nRestart=always\nExecStart=/usr/bin/nvidia-persistenced --verbose\n"
                    "ExecStopPost=/bin/rm -rf /run/nvidia-persistenced\nTimeoutSec=300\n\n"
                    "[Install]\nWantedBy=multi-user.target\n"
                )
            },
        },
        {"name": "nvidia-settings", "version": v, "mirrors": "§3", "summary": "tool for configuring the NVIDIA driver"},
        {"name": "nvidia-xconfig", "version": v, "mirrors": "§3", "summary": "X configuration tool for NVIDIA drivers"},
    ]
    for name, module in DKMS_NAMES.items():
        extra = f", firmware-nvidia-gsp (= {v})" if "open" in name else ""
        conflicts = "nvidia-kernel-dkms" if "open" in name else "nvidia-kernel-open-dkms"
        src = f"usr/src/{module}-{u}"
        pkgs.append(
            {
                "name": name,
                "version": v,
                "depends": f"dkms, nvidia-kernel-support (= {v}){extra}",
                "conflicts": conflicts,
                "mirrors": "§3 (names), §5 (dkms and the headers of the running kernel); maintainer scripts in "
                "the shape dh_dkms generates (reconstructed)",
                "summary": f"NVIDIA binary kernel module DKMS source ({'open' if 'open' in name else 'proprietary'})",
                "files": {
                    f"{src}/dkms.conf": (
                        f'PACKAGE_NAME="{module}"\nPACKAGE_VERSION="{u}"\nBUILT_MODULE_NAME[0]="nvidia"\n'
                        'BUILT_MODULE_NAME[1]="nvidia-uvm"\nBUILT_MODULE_NAME[2]="nvidia-modeset"\n'
                        'DEST_MODULE_LOCATION[0]="/updates/dkms"\nDEST_MODULE_LOCATION[1]="/updates/dkms"\n'
                        'DEST_MODULE_LOCATION[2]="/updates/dkms"\nMAKE[0]="sh ./standin-dkms-build.sh ${kernelver}"\n'
                        'CLEAN="true"\nAUTOINSTALL="yes"\n'
                    )
                },
                "scripts": {f"{src}/standin-dkms-build.sh": "standin-dkms-build.sh"},
                "postinst": (
                    "#!/bin/sh\nset -e\n"
                    'if [ "$1" = configure ]; then\n'
                    f'  /usr/lib/dkms/common.postinst {module} {u} "" "" "$2"\n'
                    "  # stand-in bookkeeping: the module on disk loads at the next boot (read by stand-in nvidia-smi)\n"
                    "  mkdir -p /var/lib/nvidia-standin\n"
                    "  { cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat; }"
                    " > /var/lib/nvidia-standin/module-installed-boot\n"
                    "fi\n"
                ),
                "prerm": (
                    "#!/bin/sh\nset -e\n"
                    'if [ "$1" = remove ] || [ "$1" = upgrade ]; then\n'
                    f"  dkms remove -m {module} -v {u} --all >/dev/null 2>&1 || true\nfi\n"
                ),
            }
        )
    if branch == "580":
        pkgs.append(
            {
                "name": "cuda-drivers-580",
                "version": v,
                "depends": "nvidia-driver (>= 580.65.06), nvidia-driver-cuda (>= 580.65.06), "
                "nvidia-kernel-dkms (>= 580.65.06), nvidia-settings (>= 580.65.06), nvidia-xconfig (>= 580.65.06)",
                "mirrors": "§3 Depends of cuda-drivers-580 on debian12, verbatim (the >= that lets 590 in)",
                "summary": "CUDA driver meta-package, branch 580",
            }
        )
    return pkgs


def cuda_packages(base_url: str, distro: str, repo_arch: str) -> list[dict]:
    """Keyring and toolkit packages of the CUDA repository."""
    name, version = TOOLKIT
    minor = name.rsplit("-", 2)[-2] + "." + name.rsplit("-", 1)[-1]
    return [
        {
            "name": "cuda-keyring",
            "version": KEYRING_VERSION,
            "arch": "all",
            "mirrors": "§1 dpkg -L cuda-keyring (three files); the .list line as NVIDIA's error message shows it; "
            "pin-600 content reconstructed (older published .pin form)",
            "summary": "GPG keyring for the CUDA repository",
            "files": {
                "usr/share/keyrings/cuda-archive-keyring.gpg": "@KEYRING@",
                f"etc/apt/sources.list.d/cuda-{distro}-{repo_arch}.list": (
                    f"deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] {base_url}/{distro}/{repo_arch}/ /\n"
                ),
                "etc/apt/preferences.d/cuda-repository-pin-600": (
                    "Package: *\nPin: release l=NVIDIA CUDA\nPin-Priority: 600\n"
                ),
            },
            "conffiles": True,
        },
        {
            "name": name,
            "version": version,
            "depends": f"cuda-cudart-{name[-4:]} (>= 12.9.79), cuda-nvcc-{name[-4:]} (>= 12.9.86)",
            "mirrors": "§6 (name, version; no driver dependency); component list reconstructed",
            "summary": f"CUDA Toolkit {minor} meta-package",
        },
        {
            "name": f"cuda-cudart-{name[-4:]}",
            "version": "12.9.79-1",
            "mirrors": "§6 (reconstructed version)",
            "summary": "CUDA Runtime native Libraries",
            "files": {f"usr/local/cuda-{minor}/STAND-IN": "placeholder for the CUDA runtime\n"},
        },
        {
            "name": f"cuda-nvcc-{name[-4:]}",
            "version": "12.9.86-1",
            "mirrors": "§6 (reconstructed version)",
            "summary": "CUDA nvcc",
        },
    ]


def container_toolkit_packages() -> list[dict]:
    """NVIDIA container toolkit packages (their own repository, UPSTREAM.md §8)."""
    v = CONTAINER_TOOLKIT_VERSION
    return [
        {
            "name": "nvidia-container-toolkit",
            "version": v,
            "depends": f"nvidia-container-toolkit-base (= {v}), libnvidia-container-tools (= {v}), "
            "libnvidia-container-tools (<< 2.0.0)",
            "breaks": "nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook",
            "replaces": "nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook",
            "mirrors": "§8 packaging/debian/control (Depends/Breaks/Replaces verbatim, @VERSION@ filled)",
            "summary": "NVIDIA Container toolkit",
        },
        {
            "name": "nvidia-container-toolkit-base",
            "version": v,
            "breaks": "nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook, "
            "nvidia-container-toolkit (<= 1.10.0-1)",
            "mirrors": "§8 packaging/debian/control; nvidia-ctk per §8 configure.go/docker.go",
            "summary": "NVIDIA Container Toolkit Base",
            "scripts": {
                "usr/bin/nvidia-ctk": "nvidia-ctk",
                "usr/bin/nvidia-container-runtime": "nvidia-container-runtime",
            },
        },
        {
            "name": "libnvidia-container-tools",
            "version": v,
            "depends": f"libnvidia-container1 (>= {v})",
            "mirrors": "§8 (Depends reconstructed)",
            "summary": "NVIDIA container runtime library (command-line tools)",
        },
        {"name": "libnvidia-container1", "version": v, "mirrors": "§8", "summary": "NVIDIA container runtime library"},
    ]


def kernel_packages(kernel: str, meta: str) -> list[dict]:
    """Headers for the test machine's own kernel, which has no Debian package (not NVIDIA's; a distro stand-in)."""
    tree = f"usr/src/linux-headers-{kernel}"
    return [
        {
            "name": f"linux-headers-{kernel}",
            "version": "1.0-1~standin",
            "mirrors": "§5 (the headers of the running kernel, linux-headers-$(uname -r)); content: the parts dkms "
            "checks (include/, Makefile, .config)",
            "summary": f"Header files for Linux {kernel} (stand-in for the test machine's kernel)",
            "files": {
                f"{tree}/Makefile": "# STAND-IN kernel build tree (tests/nvidia_repo)\n",
                f"{tree}/.config": "# STAND-IN kernel config (tests/nvidia_repo)\n",
                f"{tree}/include/STAND-IN": "placeholder\n",
            },
            "links": {f"lib/modules/{kernel}/build": f"/{tree}"},
        },
        {
            "name": meta,
            "version": "1.0-1~standin",
            "depends": f"linux-headers-{kernel}",
            "mirrors": "§5 (role of linux-headers-amd64 / linux-headers-generic: follows new kernels)",
            "summary": "Header files for the test machine's kernel (meta-package stand-in)",
        },
    ]
