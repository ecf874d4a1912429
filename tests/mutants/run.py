"""Plant, one at a time, the bugs a user would see, and check that the fast suite catches each.

    python tests/mutants/run.py [--only NAME ...] [--whole]

Each mutant is a one-place change to a scratch copy of the repository (its files, in a temporary
folder with no ``../shared/reference`` beside it, as on a fresh clone elsewhere). A mutant is caught
when the test named for it, one that checks against a source independent of the Arena's code and
belongs to the fast suite (``-m "not slow"``), fails in that copy. By default only that test runs,
selected with ``-m "not slow"`` (a test moved to the slow set is then missed), after all the named
tests have passed once on the unchanged copy: a few minutes for all. ``--whole`` runs the whole fast
suite for each mutant instead and lists the other tests that fail too (about two minutes a mutant).
Not part of the default test run. Exit status 1 if any mutant is missed.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    name: str
    what_a_user_sees: str
    path: str
    original: str
    mutated: str
    caught_by: str  # the test that checks this against a source independent of the Arena's code


MUTANTS = [
    Mutant(
        "denormal floats in training",
        "a long CPU run slows down by a third as Adam's moments decay (Pong: 110 to 80 steps/s)",
        "agents/train/training.py",
        "        with gpu_fast_paths(fast), flush_denormals():",
        "        with gpu_fast_paths(fast):",
        "tests/test_train.py::test_training_flushes_denormal_floats_and_puts_the_switch_back",
    ),
    Mutant(
        "swapped action names",
        "the bars are labelled wrong",
        "agents/play/overlay.py",
        "        for row, name in enumerate(self.action_names):",
        "        for row, name in enumerate(self.action_names[1::-1] + self.action_names[2:]):",
        "tests/test_independent.py::test_the_panel_labels_each_bar_with_its_actions_name",
    ),
    Mutant(
        "random offline agent",
        "the offline demo scores 0-2",
        "agents/core/agent.py",
        "    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)\n",
        "    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)\n"
        "    if files.offline:\n"
        "        [parameter.data.normal_(0.0, 0.01) for parameter in q_function.network.parameters()]\n",
        "tests/test_independent.py::test_the_offline_agent_that_plays_is_the_shipped_checkpoint",
    ),
    Mutant(
        "no streaming",
        "the first frame comes after seconds, not 0.3 s",
        "agents/play/episode.py",
        "            yield from encoder.new_segments()\n        render_thread.close()",
        "        render_thread.close()",
        "tests/test_independent.py::test_a_video_segment_is_streamed_while_steps_remain",
    ),
    Mutant(
        "seed ignored",
        "same seed, same game is false",
        "agents/play/rollout.py",
        "        self.observation = self.env.reset(seed)",
        "        self.observation = self.env.reset(0)",
        "tests/test_independent.py::test_same_seed_same_game_in_two_processes_and_another_seed_another_game",
    ),
    Mutant(
        "frame one step late",
        "the picture and the Q bars disagree",
        "agents/play/rollout.py",
        "        next_observation, episode_return = self.env.step(action)\n",
        "        next_observation, episode_return = self.env.step(action)\n"
        "        screen = self.ale.getScreenRGB() if screens else None\n",
        "tests/test_independent.py::test_each_video_frame_shows_the_screen_the_agent_acted_on",
    ),
    Mutant(
        "frame stack reversed",
        "the agent plays badly",
        "agents/core/checkpoint.py",
        "        values = self.network(torch.as_tensor(observations))",
        "        values = self.network(torch.as_tensor(np.ascontiguousarray(observations[:, ::-1])))",
        "tests/test_independent.py::test_play_acts_and_values_as_stock_sb3_on_the_rl_zoos_env",
    ),
    Mutant(
        "rewards clipped in the CSV",
        "the CSV's rewards are wrong (the final score stays right)",
        "agents/play/episode.py",
        "rows.append((step.index, step.action, name, step.exploratory, step.reward, step.score, step.lives))",
        "rows.append((step.index, step.action, name, step.exploratory, max(-1.0, min(1.0, step.reward)), "
        "step.score, step.lives))",
        "tests/test_independent.py::test_rewards_above_one_are_written_unclipped",
    ),
    Mutant(
        "evaluation in arrival order",
        "with two workers, game k's row in games.csv carries another seed's score",
        "agents/evaluate/evaluation.py",
        '                    games[message["seed"]] = message\n',
        "                    games[seeds[len(games)]] = message\n",
        "tests/test_mutants_ii.py::test_each_evaluated_game_is_the_game_play_shows_for_its_seed_with_two_workers",
    ),
    Mutant(
        "new revision used half-downloaded",
        "a cached agent fails to load (or downloads again) while its newer revision is arriving",
        "agents/core/hub.py",
        "    download_agent_files(repo_id, env_id, revision=newest, deadline_s=RECHECK_EVERY_S)\n"
        '    hf_hub_download(repo_id, "config.yml", etag_timeout=ETAG_TIMEOUT_S * 6)  # writes refs/main = newest\n',
        '    hf_hub_download(repo_id, "config.yml", etag_timeout=ETAG_TIMEOUT_S * 6)  # writes refs/main = newest\n'
        "    download_agent_files(repo_id, env_id, revision=newest, deadline_s=RECHECK_EVERY_S)\n",
        "tests/test_mutants_ii.py::test_a_newer_revision_is_not_used_before_its_model_has_arrived",
    ),
    Mutant(
        "fine-tuning plays randomly first",
        "a fine-tuned agent's first episodes score like a random player's",
        "agents/train/training.py",
        "        if self.own_play:\n            self.model.learning_starts = 0\n",
        "        if self.own_play:\n            pass\n",
        "tests/test_mutants_ii.py::test_fine_tuning_acts_with_the_agents_network_from_the_first_step",
    ),
    Mutant(
        "Q-bar scale shrinks",
        "the bars and the scale above them jump when the values fall",
        "agents/play/overlay.py",
        "        self.scale_high = max(self.scale_high, float(q.max()))\n",
        "        self.scale_high = max(0.0, float(q.max()))\n",
        "tests/test_mutants_ii.py::test_the_bars_scale_only_widens_during_a_game",
    ),
    Mutant(
        "worst action highlighted",
        "the panel frames the action with the lowest Q-value as chosen",
        "agents/play/overlay.py",
        "            if row == step.action:\n",
        "            if row == int(np.argmin(q)):\n",
        "tests/test_mutants_ii.py::test_the_highlighted_row_is_the_action_taken",
    ),
    Mutant(
        "cancel ignored",
        "a cancelled training job runs on to its end",
        "agents/jobs/manager.py",
        '        signal.signal(signal.SIGTERM, lambda *_: setattr(progress, "cancel_requested", True))\n',
        "        signal.signal(signal.SIGTERM, lambda *_: None)\n",
        "tests/test_mutants_ii.py::test_cancel_stops_a_training_job_within_seconds",
    ),
    Mutant(
        "evaluation scores clipped",
        "Evaluate's games.csv and results.json give Space Invaders 1 point an alien",
        "agents/evaluate/worker.py",
        "        for seed, step in games:\n            steps += 1\n",
        "        clipped: dict = {}\n"
        "        for seed, step in games:\n"
        "            clipped[seed] = clipped.get(seed, 0.0) + (step.reward > 0) - (step.reward < 0)\n"
        "            step = __import__('dataclasses').replace(step, score=clipped[seed])\n"
        "            steps += 1\n",
        "tests/test_mutants_ii.py::test_evaluate_reports_the_games_unclipped_score",
    ),
    Mutant(
        "the default game, not the repo's",
        "a pasted repo id is looked for under the default game: 'not in the cache', or the wrong game",
        "agents/core/agent.py",
        "    game = resolve_game(game_name, repo_id)\n",
        "    game = resolve_game(game_name, None)\n",
        "tests/test_repo_game.py::test_play_command_line_plays_the_repos_game_when_none_is_given",
    ),
    Mutant(
        "an agent against itself",
        "B left empty compares A with itself: 'no clear difference', [0.0, 0.0]",
        "agents/compare/duel.py",
        "    if same_files(a, b):\n",
        "    if False:\n",
        "tests/test_compare.py::test_an_agent_is_not_compared_with_itself_in_the_api_or_the_command_line",
    ),
    Mutant(
        "best-trial buttons too soon",
        "Train with the best parameters and Export are enabled before any trial completes",
        "agents/tabs/tune.py",
        "    has_best = study is not None and best_trial(study) is not None\n",
        "    has_best = study is not None\n",
        "tests/test_tune.py::test_the_study_is_told_one_way_and_its_buttons_act_only_with_a_completed_trial",
    ),
    Mutant(
        "silent piped training",
        "python -m agents.train | tee log prints nothing until the end",
        "agents/train/training.py",
        "        if self.printed_at is None or now - self.printed_at >= self.every:\n",
        "        if self.printed_at is None:\n",
        "tests/test_first_run.py::test_training_with_its_output_piped_prints_progress_at_a_steady_interval",
    ),
    Mutant(
        "hub stream not capped",
        "a repo whose server lies about a file's size fills the Space's disk",
        "agents/core/hub.py",
        "            if self.received > cap:\n",
        "            if False:\n",
        "tests/test_online.py::test_a_file_whose_size_lies_is_stopped_on_the_stream_and_nothing_stays",
    ),
    Mutant(
        "hub cache without a budget",
        "every repo a visitor names stays on the Space's disk for good",
        "agents/core/hub.py",
        "            if total <= budget:\n                break\n",
        "            break\n",
        "tests/test_online.py::test_the_cache_keeps_its_budget_giving_back_the_least_recently_used_repo",
    ),
    Mutant(
        "evaluation without a budget",
        "one visitor's 100 games × 100,000 steps hold a Space's cores for hours",
        "agents/tabs/evaluate.py",
        '    check_evaluation_cost("This evaluation", episodes, max_steps)\n',
        "",
        "tests/test_budget.py::test_an_evaluation_over_the_budget_is_refused_before_any_work",
    ),
    Mutant(
        "download outlives its request",
        "a visitor who left still fills the Space's disk and network with their download",
        "agents/core/hub.py",
        "        check_stop()  # the visitor left: the downloads stop with this request (``finally`` above)\n",
        "",
        "tests/test_online.py::test_a_download_whose_request_ended_stops_at_once_and_leaves_nothing",
    ),
    Mutant(
        "leases never run out",
        "a submission whose worker died stays in the Leaderboard's queue for ever",
        "agents/leaderboard/store.py",
        "((submissions.c.state == RUNNING) & (submissions.c.lease_until < now))",
        "((submissions.c.state == RUNNING) & False)",
        "tests/test_leaderboard.py::test_workers_never_share_a_submission_and_a_dead_workers_is_taken_over",
    ),
    Mutant(
        "board upside down",
        "the Leaderboard ranks the worst agent first",
        "agents/leaderboard/board.py",
        '    rows.sort(key=lambda row: (-row[key], row["entry"]))',
        '    rows.sort(key=lambda row: (row[key], row["entry"]))',
        "tests/test_leaderboard.py::test_the_board_ranks_by_the_order_asked_and_flags_a_claim_too_high",
    ),
    Mutant(
        "flicker kept",
        "the agent sees other screens than stock SB3 does, and plays other games than its card's",
        "agents/core/fused_env.py",
        "            if i >= self._skip - 2:",
        "            if i >= self._skip - 1:",
        "tests/test_fused_env.py::test_the_rl_zoos_games_observation_by_observation",
    ),
    Mutant(
        "ball never served",
        "Breakout's agent stands still at the start of each game: the RL Zoo's FIRE on reset is missing",
        "agents/core/fused_env.py",
        "        for action in (FIRE, 2):",
        "        for action in (NOOP, 2):",
        "tests/test_fused_env.py::test_the_rl_zoos_games_observation_by_observation",
    ),
    Mutant(
        "other noop stream",
        "a game with a seed is not the RL Zoo's game with that seed",
        "agents/core/fused_env.py",
        "        for _ in range(self.np_random.integers(1, self._noop_max + 1)):",
        "        for _ in range(np.random.default_rng(0).integers(1, self._noop_max + 1)):",
        "tests/test_fused_env.py::test_the_rl_zoos_games_observation_by_observation",
    ),
    Mutant(
        "Your turn flickers",
        "in Your turn, sprites the game draws every other frame blink on and off",
        "agents/yourturn/session.py",
        "        return [frame if before is None else np.maximum(before, frame) for before, frame in pairs]",
        "        return [frame for before, frame in pairs]",
        "tests/test_yourturn.py::test_a_game_over_the_websocket_replays_frame_for_frame_through_the_rl_zoo",
    ),
    Mutant(
        "tuning workers fail each other's new trials",
        "two tuning workers on one machine: one stops with 'Cannot tell a FAIL trial' (seen in CI)",
        "agents/tune/tuning.py",
        "            gone = gone or started is None or (recorded is not None and started != recorded)",
        "            gone = gone or started != recorded",
        "tests/test_tune.py::test_only_trials_of_ended_processes_are_failed_as_interrupted",
    ),
]


def scratch_copy(into: Path) -> Path:
    """The repository's files as a fresh clone has them (plus new files not yet committed)."""
    listing = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listing, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    copy = into / "repo"
    for name in files:
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)  # a link (e.g. .venv) stays a link
    return copy


def failing_tests(copy: Path, node_ids: list[str] | None = None) -> tuple[set[str], set[str]]:
    """The tests of the fast suite that fail in ``copy`` (only those of ``node_ids``, if given), and those
    that ran."""
    command = [sys.executable, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider", "-rfEA"]
    run = subprocess.run([*command, *(node_ids or [])], cwd=copy, capture_output=True, text=True, timeout=1800)
    ran = {}
    for line in run.stdout.splitlines():
        outcome, _, rest = line.partition(" ")
        if outcome in ("PASSED", "FAILED", "ERROR", "SKIPPED"):
            ran[rest.split(" - ")[0].split("[")[0].strip()] = outcome
    return {name for name, outcome in ran.items() if outcome in ("FAILED", "ERROR")}, set(ran)


def test_name(node_id: str) -> str:
    return node_id.split("::")[-1]


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python tests/mutants/run.py",
        description="Plant each listed bug in a scratch copy and report whether the fast suite catches it.",
    )
    parser.add_argument("--only", nargs="*", metavar="NAME", help="run only the mutants with these names")
    parser.add_argument(
        "--whole", action="store_true", help="run the whole fast suite for each mutant and list every test it fails"
    )
    args = parser.parse_args()
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    named = sorted({mutant.caught_by for mutant in mutants})
    with tempfile.TemporaryDirectory(prefix="arena-mutants-") as folder:
        copy = scratch_copy(Path(folder))
        failed, ran = failing_tests(copy, None if args.whole else named)
        if failed:
            print(f"The fast suite fails without any mutant: {sorted(failed)}")
            return 1
        missed = []
        for mutant in mutants:
            if mutant.caught_by not in ran:
                print(f"MISSED  {mutant.name:28} its test is not in the fast suite: {mutant.caught_by}")
                missed.append(mutant)
                continue
            path = copy / mutant.path
            original = path.read_text()
            assert original.count(mutant.original) == 1, f"{mutant.name}: its code moved; update the mutant"
            path.write_text(original.replace(mutant.original, mutant.mutated))
            started = time.monotonic()
            failed, _ = failing_tests(copy, None if args.whole else [mutant.caught_by])
            path.write_text(original)
            verdict = "caught" if mutant.caught_by in failed else "MISSED"
            print(f"{verdict:6}  {mutant.name:28} {time.monotonic() - started:4.0f} s  ({mutant.what_a_user_sees})")
            print(f"        by {test_name(mutant.caught_by) if mutant.caught_by in failed else '(not its test)'}")
            others = sorted(failed - {mutant.caught_by})
            if others:
                print(f"        and {len(others)} more: {', '.join(test_name(name) for name in others)}", flush=True)
            if mutant.caught_by not in failed:
                missed.append(mutant)
    print(f"{len(mutants) - len(missed)} of {len(mutants)} planted bugs caught by the fast suite's independent tests.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
