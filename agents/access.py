"""Who may train: where there is a GPU (or CPU training is allowed), and on a Space, only its owner."""

import hmac
import os

import torch

CPU_TRAINING_VARIABLE = "ARENA_ALLOW_CPU_TRAINING"
SECRET_VARIABLE = "ARENA_TRAIN_SECRET"


def training_available() -> tuple[bool, str]:
    """Whether this machine trains, and a sentence saying why (not)."""
    if torch.cuda.is_available():
        return True, f"Training runs on the GPU ({torch.cuda.get_device_name(0)})."
    if os.getenv(CPU_TRAINING_VARIABLE) == "1":
        return True, f"No GPU here: training runs on the CPU ({CPU_TRAINING_VARIABLE}=1), which is slow."
    return False, (
        "Training is off: this Space has no GPU, and DQN on Atari needs one to learn in reasonable time "
        "(on a 2-core CPU it runs at under 100 steps/s). Duplicate the Space, give your copy a GPU in its "
        f"settings, and train there (or set {CPU_TRAINING_VARIABLE}=1 to train on the CPU anyway)."
    )


def on_a_space() -> bool:
    return bool(os.getenv("SPACE_ID"))


def may_control_training(username: str | None, secret: str | None) -> bool:
    """Off a Space anyone at the keyboard may; on a Space, its owner (logged in) or whoever knows the secret."""
    if not on_a_space():
        return True
    owner = os.getenv("SPACE_AUTHOR_NAME")
    if username and owner and username == owner:
        return True
    expected = os.getenv(SECRET_VARIABLE)
    return bool(expected and secret and hmac.compare_digest(expected, secret))


def control_refusal() -> str:
    return (
        f"Only the owner of this Space may start or cancel training: log in with Hugging Face as "
        f"{os.getenv('SPACE_AUTHOR_NAME', 'the owner')}, or give the secret set as {SECRET_VARIABLE} in the "
        "Space's settings. Or duplicate the Space to train your own."
    )
