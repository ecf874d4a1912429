"""Lay out a trained agent as ``rl_zoo3.push_to_hub`` does, and upload it with the user's token.

The folder holds ``dqn-<EnvId>.zip`` (and its unzipped copy), ``config.yml``, ``args.yml``,
``env_kwargs.yml``, ``results.json``, ``replay.mp4``, ``train_eval_metrics.zip`` and a model card
whose ``model-index`` carries the mean reward: the layout the Play tab (and the RL Zoo's
``load_from_hub``) reads back.
"""

import json
import shutil
import zipfile
from pathlib import Path
from pprint import pformat

from huggingface_hub import HfApi
from huggingface_hub.repocard import metadata_eval_result, metadata_save

from agents.core.environment import read_rl_zoo_yaml
from agents.core.errors import AgentError
from agents.core.hub import METRICS_FILE
from agents.core.run_folder import ALGO, RunFolder
from agents.evaluate.evaluation import Evaluation


def hub_repo_id(username: str, env_id: str) -> str:
    """The RL Zoo's name for a user's agent: ``<user>/dqn-<EnvId>``."""
    return f"{username}/{ALGO}-{env_id}"


def model_card(env_id: str, organization: str, evaluation: Evaluation, hyperparameters: dict) -> tuple[str, dict]:
    """The RL Zoo's model card text and its metadata (tags and the mean reward in ``model-index``)."""
    metadata = {
        "library_name": "stable-baselines3",
        "tags": [env_id, "deep-reinforcement-learning", "reinforcement-learning", "stable-baselines3"],
        **metadata_eval_result(
            model_pretty_name=ALGO.upper(),
            task_pretty_name="reinforcement-learning",
            task_id="reinforcement-learning",
            metrics_pretty_name="mean_reward",
            metrics_id="mean_reward",
            metrics_value=f"{evaluation.mean:.2f} +/- {evaluation.std:.2f}",
            dataset_pretty_name=env_id,
            dataset_id=env_id,
        ),
    }
    text = f"""
# **DQN** Agent playing **{env_id}**
This is a trained model of a **DQN** agent playing **{env_id}**
using the [stable-baselines3 library](https://github.com/DLR-RM/stable-baselines3)
and the [RL Zoo](https://github.com/DLR-RM/rl-baselines3-zoo), trained in the Atari DQN Arena.

Mean reward {evaluation.mean:.2f} +/- {evaluation.std:.2f} over {len(evaluation.scores)} games
(ε = {evaluation.epsilon:g}).

## Usage (with SB3 RL Zoo)

```
python -m rl_zoo3.load_from_hub --algo {ALGO} --env {env_id} -orga {organization} -f logs/
python -m rl_zoo3.enjoy --algo {ALGO} --env {env_id} -f logs/
```

## Hyperparameters
```python
{pformat(hyperparameters)}
```
"""
    return text, metadata


def write_train_eval_metrics(run: RunFolder, archive_path: Path) -> None:
    """The run's training log as ``rl_zoo3.push_to_hub`` zips it: ``evaluations.npz`` and the monitor logs
    under their bare names (what :func:`agents.curves.logs.hub_metrics_curves` reads back)."""
    with zipfile.ZipFile(archive_path, "w") as archive:
        if run.evaluations.is_file():
            archive.write(run.evaluations, arcname=run.evaluations.name)
        for monitor in run.monitor_logs():
            archive.write(monitor, arcname=monitor.name)


def stage_for_hub(run: RunFolder, organization: str, evaluation: Evaluation, replay: Path, out: Path) -> Path:
    """Write the Hub repo's files for ``run`` into ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_name = f"{ALGO}-{run.env_id}"
    shutil.copy(run.model_zip, out / f"{model_name}.zip")
    with zipfile.ZipFile(out / f"{model_name}.zip") as archive:
        archive.extractall(out / model_name)
    for name in ("config.yml", "args.yml", "env_kwargs.yml"):
        shutil.copy(run.params / name, out / name)
    (out / "results.json").write_text(json.dumps(evaluation.results_json()))
    shutil.copy(replay, out / "replay.mp4")
    write_train_eval_metrics(run, out / METRICS_FILE)
    hyperparameters = read_rl_zoo_yaml(out / "config.yml")
    text, metadata = model_card(run.env_id, organization, evaluation, hyperparameters)
    (out / "README.md").write_text(text)
    metadata_save(out / "README.md", metadata)
    return out


def hub_username(token: str) -> str:
    """Whose token this is, asked of the Hub (the name agents are pushed under)."""
    try:
        return HfApi(token=token).whoami()["name"]
    except Exception as error:  # network or token trouble, worded for the user
        raise AgentError(
            f"Could not ask the Hub whose token this is ({type(error).__name__}); check the token and the network."
        ) from None


def push_to_hub(folder: Path, repo_id: str, token: str) -> str:
    """Create the model repo if needed and upload the staged folder; returns the repo's URL."""
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id=repo_id, repo_type="model", exist_ok=True)
        api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), commit_message="Upload DQN agent from the Atari DQN Arena"
        )
    except Exception as error:  # the Hub's and the network's errors, worded for the user
        raise AgentError(
            f"The upload to {repo_id} failed ({type(error).__name__}: {error}). Check your token and the network, "
            "then push again: the staged files are kept."
        ) from None
    return str(url)


def publish_run(
    run: RunFolder, evaluation: Evaluation, replay: Path, out: Path, repo_id: str | None, token: str | None
) -> tuple[Path, str | None]:
    """Stage a scored run in the RL Zoo's Hub layout in ``out`` and, given a repo id, upload it there.
    Returns the staged folder and the repo's URL (``None`` when only staged)."""
    organization = repo_id.split("/")[0] if repo_id else "OWNER"
    staged = stage_for_hub(run, organization, evaluation, replay, out)
    return staged, push_to_hub(staged, repo_id, token) if repo_id else None
