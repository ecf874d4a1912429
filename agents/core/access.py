"""Who may train and push, said as it is where the app runs: on a Space (its owner, logged in) or on
this machine (whoever runs it)."""

import hmac
import os

import torch
from huggingface_hub import get_token

CPU_TRAINING_VARIABLE = "ARENA_ALLOW_CPU_TRAINING"
SECRET_VARIABLE = "ARENA_TRAIN_SECRET"


def on_a_space() -> bool:
    return bool(os.getenv("SPACE_ID"))


def where() -> str:
    """``this Space`` or ``this machine``, for the page's sentences."""
    return "this Space" if on_a_space() else "this machine"


def training_available() -> tuple[bool, str]:
    """Whether training runs here, and a sentence saying why (not).

    Off a Space, whoever runs the app decides: with no GPU it trains on the CPU, slowly (the Train
    tab estimates how slowly). A Space's CPU serves every visitor's games, so a Space without a GPU
    trains only when its owner sets ``ARENA_ALLOW_CPU_TRAINING=1``.
    """
    if torch.cuda.is_available():
        return True, f"Training runs on {where()}'s GPU ({torch.cuda.get_device_name(0)})."
    if not on_a_space():
        return True, (
            "This machine has no GPU: training runs on its CPU, which is slow (the estimate below is measured "
            "here). The form starts from a short fine-tuning run; the RL Zoo trains for 10M steps on a GPU."
        )
    if os.getenv(CPU_TRAINING_VARIABLE) == "1":
        return True, f"This Space has no GPU: training runs on its CPU ({CPU_TRAINING_VARIABLE}=1), which is slow."
    return False, (
        "Training is off: this Space has no GPU, and DQN on Atari needs one to learn in reasonable time "
        "(on a 2-core CPU it runs at about 100 steps/s). Duplicate the Space, give your copy a GPU in its "
        f"settings, and train there (or set {CPU_TRAINING_VARIABLE}=1 in its settings to train on the CPU anyway)."
    )


def may_control_training(username: str | None, secret: str | None) -> bool:
    """Off a Space anyone at the keyboard may; on a Space, its owner (logged in) or whoever knows the secret."""
    if not on_a_space():
        return True
    owner = os.getenv("SPACE_AUTHOR_NAME")
    if username and owner and username == owner:
        return True
    expected = os.getenv(SECRET_VARIABLE)
    return bool(expected and secret and hmac.compare_digest(expected, secret))


def control_refusal(what: str = "start or cancel training") -> str:
    return (
        f"Only the owner of this Space may {what}: log in with Hugging Face as "
        f"{os.getenv('SPACE_AUTHOR_NAME', 'the owner')}, or give the secret set as {SECRET_VARIABLE} in the "
        "Space's settings. Or duplicate the Space to train your own."
    )


def push_token(oauth_token: str | None) -> str | None:
    """The token a push uses: on a Space the visitor's own (logged in); here this machine's."""
    if on_a_space():
        return oauth_token
    return get_token()


def push_note(oauth_token: str | None) -> str:
    """Who a push would go out as, or what to do first."""
    if on_a_space():
        if oauth_token:
            return "Pushes to your account, with the token you logged in with."
        return "Log in with Hugging Face (above) to push a finished agent to your account."
    if get_token():
        return "Pushes with this machine's Hugging Face token (HF_TOKEN or `hf auth login`), to its account."
    return (
        "To push a finished agent, give this machine a Hugging Face token with write access: set `HF_TOKEN` "
        "or run `hf auth login`, then reload this page."
    )
