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

from agents.environment import read_rl_zoo_yaml
from agents.evaluation import Evaluation

ALGO = "dqn"


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


def _train_eval_metrics(run_folder: Path, archive_path: Path) -> None:
    with zipfile.ZipFile(archive_path, "w") as archive:
        if (run_folder / "evaluations.npz").is_file():
            archive.write(run_folder / "evaluations.npz", arcname="evaluations.npz")
        for monitor in sorted(run_folder.glob("*.csv")):
            archive.write(monitor, arcname=monitor.name)


def stage_for_hub(
    run_folder: Path, env_id: str, organization: str, evaluation: Evaluation, replay: Path, out: Path
) -> Path:
    """Write the Hub repo's files for the run in ``run_folder`` into ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_name = f"{ALGO}-{env_id}"
    shutil.copy(run_folder / f"{env_id}.zip", out / f"{model_name}.zip")
    with zipfile.ZipFile(out / f"{model_name}.zip") as archive:
        archive.extractall(out / model_name)
    for name in ("config.yml", "args.yml", "env_kwargs.yml"):
        shutil.copy(run_folder / env_id / name, out / name)
    (out / "results.json").write_text(json.dumps(evaluation.results_json()))
    shutil.copy(replay, out / "replay.mp4")
    _train_eval_metrics(run_folder, out / "train_eval_metrics.zip")
    hyperparameters = read_rl_zoo_yaml(out / "config.yml")
    text, metadata = model_card(env_id, organization, evaluation, hyperparameters)
    (out / "README.md").write_text(text)
    metadata_save(out / "README.md", metadata)
    return out


def push_to_hub(folder: Path, repo_id: str, token: str) -> str:
    """Create the model repo if needed and upload the staged folder; returns the repo's URL."""
    api = HfApi(token=token)
    url = api.create_repo(repo_id=repo_id, repo_type="model", exist_ok=True)
    api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), commit_message="Upload DQN agent from the Atari DQN Arena"
    )
    return str(url)
