"""How the agent on screen learned: its learning curves, found where they are, shaped for the page's
plots. Gradio-free; the data come from :mod:`agents.curves.logs`."""

import functools
from pathlib import Path

import pandas as pd

from agents.core.agent import Agent
from agents.core.catalog import Game
from agents.core.errors import AgentError
from agents.core.hub import METRICS_FILE, check_repo_id, fetch_extra_file
from agents.core.run_folder import RunFolder
from agents.curves.logs import LearningCurves, default_frame_skip, hub_metrics_curves, run_curves, shipped_curves


def curves_for(agent: Agent) -> tuple[LearningCurves | None, str]:
    """The learning curves of the agent on screen, and one sentence on where they come from, or why there
    are none: a training run's folder, or its Hub repo's (see :func:`repo_curves`)."""
    files, env_id = agent.files, agent.game.env_id
    if agent.offline:
        return offline_curves(files.model_zip.parent, env_id)
    run = files.model_zip.parent
    if files.config == run / env_id / "config.yml":  # an RL Zoo run folder: a Train-tab run
        return run_folder_curves(run)
    return repo_curves(agent.game, agent.repo_id, revision=run.name)  # the snapshot the agent came from


def offline_curves(folder: Path, env_id: str) -> tuple[LearningCurves | None, str]:
    """A shipped agent's curves: the training log that ``python -m agents.train.pack_offline`` ships beside it,
    read as a Hub repo's would be."""
    how = f"`offline_agents/{env_id}/TRAINING.md`"
    try:
        curves = hub_metrics_curves(folder / METRICS_FILE, f"offline_agents/{env_id}", default_frame_skip(env_id))
    except AgentError as error:
        return None, f"The offline agent's training log could not be read: {error}"
    if curves is None:
        return None, f"The offline agent's training log is not shipped: {how} says how it was trained."
    return curves, f"From the training log of the run the offline agent comes from: {how} says how it was made."


def run_folder_curves(run: Path) -> tuple[LearningCurves | None, str]:
    """A training run's curves, from its own folder."""
    try:
        curves = run_curves(run)
    except AgentError as error:
        return None, f"The training log could not be read: {error}"
    if curves is None:
        return None, f"No training log was found in `{run}`."
    return curves, f"From {curves.source}."


def repo_curves(game: Game, repo_id: str | None, revision: str | None = None) -> tuple[LearningCurves | None, str]:
    """A Hub agent's curves: the RL Zoo's own logs (shipped) for the game's ``sb3`` agent, else the repo's
    ``train_eval_metrics.zip``, read as hostile input. No model is needed for either."""
    repo_id = check_repo_id(repo_id) if repo_id and repo_id.strip() else game.repo_id
    try:
        if repo_id == game.repo_id:
            curves = shipped_curves(game.env_id)
        else:
            metrics = fetch_extra_file(repo_id, METRICS_FILE, revision)
            if metrics is None:
                missing = f"`{repo_id}` has no `{METRICS_FILE}` (the RL Zoo's training log)"
                return None, f"{missing}, or the Hub is out of reach."
            curves = hub_metrics_curves(metrics, repo_id)
    except AgentError as error:
        return None, f"The training log could not be read: {error}"
    if curves is None:
        return None, f"No training log was found for `{repo_id}`."
    return curves, f"From {curves.source}."


def episode_plot_data(curves: LearningCurves) -> pd.DataFrame | None:
    """Training episodes' scores and their moving average against timesteps, in long form."""
    episodes = curves.episodes
    if episodes.empty:
        return None
    raw = pd.DataFrame({"timesteps": episodes["timesteps"], "score": episodes["score"], "series": "episode score"})
    average = episodes.dropna(subset=["moving_average"])
    smooth = pd.DataFrame(
        {"timesteps": average["timesteps"], "score": average["moving_average"], "series": "mean of the last 100"}
    )
    return pd.concat([raw, smooth], ignore_index=True)


def evaluation_plot_data(curves: LearningCurves) -> pd.DataFrame | None:
    """Evaluations' mean, and mean ± std, against timesteps, in long form."""
    evaluations = curves.evaluations
    if evaluations is None or evaluations.empty:
        return None
    series = {
        "evaluation mean": evaluations["mean"],
        "mean + std": evaluations["mean"] + evaluations["std"],
        "mean − std": evaluations["mean"] - evaluations["std"],
    }
    frames = [
        pd.DataFrame({"timesteps": evaluations["timesteps"], "score": values, "series": name})
        for name, values in series.items()
    ]
    return pd.concat(frames, ignore_index=True)


def run_evaluation_curve(status: dict) -> pd.DataFrame | None:
    """A finished training job's evaluations (mean ± std against timesteps), for the Train tab."""
    if not status.get("run_folder"):
        return None
    evaluations = RunFolder(Path(status["run_folder"]), status["env_id"]).evaluations
    try:
        written = evaluations.stat().st_mtime_ns
    except OSError:
        return None
    return _evaluation_curve(evaluations, written)


@functools.lru_cache(maxsize=4)
def _evaluation_curve(evaluations: Path, written: int) -> pd.DataFrame | None:
    """Read once per version of the file, not at every page's status poll (every 2 s)."""
    curves, _ = run_folder_curves(evaluations.parent)
    return evaluation_plot_data(curves) if curves else None
