"""Local NVIDIA-shaped apt repositories of STAND-IN packages for tests (see UPSTREAM.md)."""
