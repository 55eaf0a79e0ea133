"""torchvision's detection losses, fed refloss's inputs."""
