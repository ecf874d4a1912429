"""Maintainer tool: pack a training run's agent as a game's offline agent, shipped in ``offline_agents/``.

    python -m agents.train.pack_offline runs/breakout/dqn/BreakoutNoFrameskip-v4_1 --episodes 10 --command "..."

Only the weights are kept (and an optimizer that has not stepped, which SB3's ``DQN.load`` and so
``rl_zoo3.enjoy`` need), beside the RL Zoo's ``config.yml`` and ``env_kwargs.yml``, ``results.json``,
the run's training log as ``train_eval_metrics.zip`` (the learning curves the Play tab shows for it),
and a ``TRAINING.md`` that records how the agent was made and how it scores against random play.
"""

import argparse
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import torch
from stable_baselines3 import DQN

from agents.core.agent_files import OFFLINE_AGENTS
from agents.core.checkpoint import read_checkpoint
from agents.core.environment import env_settings, make_env, read_rl_zoo_yaml
from agents.core.errors import AgentError
from agents.core.hub import METRICS_FILE
from agents.core.run_folder import ALGO, RunFolder
from agents.evaluate.evaluation import Evaluation, evaluate
from agents.train.publish import write_train_eval_metrics
from agents.train.training import run_agent

WEIGHTS_ONLY_MEMBERS = ("data", "policy.pth", "pytorch_variables.pth", "_stable_baselines3_version", "system_info.txt")
OPTIMIZER_MEMBER = "policy.optimizer.pth"


def fresh_optimizer_state(env_id: str, config_yml: Path, model_zip: Path) -> bytes:
    """``policy.optimizer.pth`` for the run's network as SB3 builds it, before any step: SB3's ``DQN.load``
    refuses a file without one, and Adam's moments would more than double the file for no use."""
    checkpoint = read_checkpoint(model_zip)
    config = read_rl_zoo_yaml(config_yml)
    env = make_env(env_settings(env_id, config, {}), seed=0)
    try:
        model = DQN(config["policy"], env, buffer_size=1, device="cpu", policy_kwargs=checkpoint.policy_kwargs)
    finally:
        env.close()
    model.policy.load_state_dict(checkpoint.state_dict)  # the same network: every name and shape match
    state = io.BytesIO()
    torch.save(model.policy.optimizer.state_dict(), state)
    return state.getvalue()


def stage_offline_agent(
    run: RunFolder,
    model_zip: Path,
    evaluation: Evaluation,
    baseline: Evaluation,
    command: str,
    out: Path,
) -> Path:
    """Write a run's agent into ``out`` (``offline_agents/<EnvId>``) in the Hub layout, weights only
    (an optimizer that has not stepped), with ``results.json``, the run's whole training log (up to its last
    step, also when ``model_zip`` is an earlier checkpoint: ``TRAINING.md`` says which) and a ``TRAINING.md``
    that records how it was made."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env_id = run.env_id
    with (
        zipfile.ZipFile(model_zip) as source,
        zipfile.ZipFile(out / f"{ALGO}-{env_id}.zip", "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for name in WEIGHTS_ONLY_MEMBERS:
            if name in source.namelist():
                target.writestr(name, source.read(name))
        target.writestr(OPTIMIZER_MEMBER, fresh_optimizer_state(env_id, run.config, model_zip))
    shutil.copy(run.config, out / "config.yml")
    shutil.copy(run.env_kwargs, out / "env_kwargs.yml")
    # The random policy's score beside the agent's: how the default offline agent is picked among several.
    (out / "results.json").write_text(json.dumps({**evaluation.results_json(), "random_mean_reward": baseline.mean}))
    write_train_eval_metrics(run, out / METRICS_FILE)
    (out / "TRAINING.md").write_text(
        f"# The offline {env_id} agent\n\n"
        "Trained on this project's 2-core CPU machine with the Arena's own pipeline:\n\n"
        f"```bash\n{command}\n```\n\n"
        f"Evaluated with the Play pipeline over {len(evaluation.scores)} games (seeds "
        f"{evaluation.seeds[0]}-{evaluation.seeds[-1]}, ε = {evaluation.epsilon:g}): "
        f"**{evaluation.mean:.1f} ± {evaluation.std:.1f}** (scores {evaluation.scores}).\n\n"
        f"A uniformly random policy on the same seeds: {baseline.mean:.1f} ± {baseline.std:.1f} "
        f"(scores {baseline.scores}).\n\n"
        "Only the weights are kept (SB3's `data` and `policy.pth`, and an optimizer that has not stepped, which "
        "SB3's `DQN.load` needs), from "
        f"`{model_zip.name}`. `{METRICS_FILE}` holds the whole run's training log (its monitor logs and "
        "evaluations), as `rl_zoo3.push_to_hub` zips it: the Play tab's learning curves for this agent.\n"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m agents.train.pack_offline RUN_FOLDER --episodes N --command "..."``: ship a run's agent as
    its game's offline agent, scored against a random policy on the same seeds."""
    parser = argparse.ArgumentParser(
        prog="python -m agents.train.pack_offline", description=main.__doc__.splitlines()[0]
    )
    parser.add_argument("run_folder", type=Path, help="an RL Zoo run folder, dqn/<EnvId>_<n>")
    parser.add_argument("--checkpoint", type=Path, help="one of the run's checkpoints instead of its final model")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--command", required=True, help="the command that trained it, for TRAINING.md")
    args = parser.parse_args(argv)
    run = RunFolder(args.run_folder, args.run_folder.name.rsplit("_", 1)[0])
    model_zip = args.checkpoint or run.model_zip
    try:
        agent = run_agent(run, model_zip)
        evaluation = evaluate(agent, n_episodes=args.episodes)
        baseline = evaluate(agent, n_episodes=args.episodes, epsilon=1.0)
        out = stage_offline_agent(run, model_zip, evaluation, baseline, args.command, OFFLINE_AGENTS / run.env_id)
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"offline_agent": str(out), "mean": evaluation.mean, "random_mean": baseline.mean}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
