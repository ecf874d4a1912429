"""Safe loading of real SB3 1.x and 2.x checkpoints, and refusal of bad or hostile ones."""

import base64
import collections
import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import gradio as gr
import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from sb3_contrib import QRDQN
from stable_baselines3 import DQN, PPO

from agents.core.checkpoint import build_q_function, read_checkpoint
from agents.core.environment import env_settings, make_env, read_rl_zoo_yaml
from agents.core.errors import AgentError
from agents.tabs.play_ui import play_api
from tests import hub_cache
from tests.conftest import reference_path

SPACE_INVADERS = "SpaceInvadersNoFrameskip-v4"
ATARI_CONFIG = {"env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper", "frame_stack": 4}


def atari_env(env_id: str = SPACE_INVADERS):
    return make_env(env_settings(env_id, ATARI_CONFIG, {}), seed=0)


def random_observations(env, count: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, *env.observation_space.shape), dtype=np.uint8)


class Payload:
    """Unpickling this object touches a marker file: proof that something was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_genuine_sb3_1_0_checkpoint_loads_and_balances_the_pole():
    """A 2021 SB3 1.0rc0 file whose data pickles old gym spaces: read without unpickling them."""
    path = reference_path("rl-trained-agents", "dqn", "CartPole-v1_1", "CartPole-v1.zip")
    checkpoint = read_checkpoint(path)
    assert (checkpoint.algo, checkpoint.observation_shape, checkpoint.n_actions) == ("dqn", (4,), 2)
    assert checkpoint.policy_kwargs == {"net_arch": [256, 256]}
    assert checkpoint.sb3_version.startswith("1.0")
    env = gym.make("CartPole-v1")
    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)

    observation = np.array([[0.01, -0.02, 0.03, 0.04]], dtype=np.float32)
    weights = checkpoint.state_dict
    hidden = torch.relu(
        torch.as_tensor(observation) @ weights["q_net.q_net.0.weight"].T + weights["q_net.q_net.0.bias"]
    )
    hidden = torch.relu(hidden @ weights["q_net.q_net.2.weight"].T + weights["q_net.q_net.2.bias"])
    expected = hidden @ weights["q_net.q_net.4.weight"].T + weights["q_net.q_net.4.bias"]
    np.testing.assert_allclose(q_function(observation), expected.numpy(), rtol=1e-5)

    observation, _ = env.reset(seed=0)
    total = 0.0
    for _ in range(500):
        action = int(np.argmax(q_function(observation[None])[0]))
        observation, reward, terminated, truncated, _ = env.step(action)
        total += reward
        if terminated or truncated:
            break
    assert total >= 450, "a trained CartPole agent keeps the pole up; wrong weights would not"


@pytest.mark.parametrize("version", ["2.0", "2.4"])
def test_genuine_sb3_2_hub_data_with_weights_gives_the_networks_q_values(tmp_path, version):
    folder = reference_path("hub-repos", f"sb3-{version}-dqn-{SPACE_INVADERS}", f"dqn-{SPACE_INVADERS}")
    env = atari_env()
    reference = DQN("CnnPolicy", env, buffer_size=1, seed=1, device="cpu")
    path = hub_cache.zip_with_weights(folder, reference.policy.state_dict(), tmp_path / "model.zip")

    checkpoint = read_checkpoint(path)
    assert checkpoint.sb3_version.startswith(version)
    assert checkpoint.num_timesteps == 1_000_000
    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)
    observations = random_observations(env)
    with torch.no_grad():
        expected = reference.policy.q_net(torch.as_tensor(observations)).numpy()
    np.testing.assert_allclose(q_function(observations), expected, rtol=1e-5, atol=1e-6)


def test_dqn_q_values_are_sb3s_own_network_on_a_checkpoint_made_here(tmp_path):
    """The same claim as the genuine SB3 2.x test, with no reference data: an Atari DQN saved by the
    installed SB3 gives, through the safe loader, exactly its own network's Q-values and actions."""
    env = atari_env()
    model = DQN("CnnPolicy", env, buffer_size=1, seed=3, device="cpu")
    model.save(tmp_path / "dqn.zip")
    checkpoint = read_checkpoint(tmp_path / "dqn.zip")
    assert checkpoint.algo == "dqn" and checkpoint.observation_shape == (4, 84, 84)
    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)
    observations = random_observations(env)
    with torch.no_grad():
        expected = model.policy.q_net(torch.as_tensor(observations)).numpy()
    np.testing.assert_allclose(q_function(observations), expected, rtol=1e-5, atol=1e-6)
    greedy, _ = model.predict(observations, deterministic=True)
    np.testing.assert_array_equal(q_function(observations).argmax(axis=1), greedy)


def test_a_checkpoint_whose_pickles_name_a_missing_module_loads_without_them(tmp_path):
    """As SB3 1.x files pickle old ``gym`` spaces: here every pickled blob in ``data`` names a module that
    is not installed, so any attempt to unpickle one would fail; the checkpoint loads all the same."""
    env = gym.make("CartPole-v1")
    model = DQN("MlpPolicy", env, buffer_size=1, seed=0, device="cpu", policy_kwargs={"net_arch": [256, 256]})
    model.save(tmp_path / "cartpole.zip")
    with zipfile.ZipFile(tmp_path / "cartpole.zip") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    blob = pickle.dumps(Payload(tmp_path / "never"))  # a pickle that would run something
    missing = blob.replace(b"pathlib", b"gym_old")  # ... from a module that no longer exists
    for field in data.values():
        if isinstance(field, dict) and ":serialized:" in field:
            field[":serialized:"] = base64.b64encode(missing).decode()
    members["data"] = json.dumps(data).encode()
    old_style = write_zip(tmp_path / "old-style.zip", members)

    checkpoint = read_checkpoint(old_style)
    assert (checkpoint.observation_shape, checkpoint.n_actions) == ((4,), 2)
    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)
    observations = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    with torch.no_grad():
        expected = model.policy.q_net(torch.as_tensor(observations)).numpy()
    np.testing.assert_allclose(q_function(observations), expected, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "never").exists()


def test_yaml_as_the_rl_zoo_writes_it_is_read_with_its_ordered_dict_tag(tmp_path):
    """The same claim as the genuine config.yml test, with no reference data: the RL Zoo writes its
    hyperparameters with ``yaml.dump`` of an OrderedDict (``ExperimentManager``); that file reads here."""
    saved = collections.OrderedDict(
        [("env_wrapper", ["stable_baselines3.common.atari_wrappers.AtariWrapper"]), ("frame_stack", 4)]
    )
    path = tmp_path / "config.yml"
    path.write_text(yaml.dump(saved))
    assert "!!python/object/apply:collections.OrderedDict" in path.read_text()
    config = read_rl_zoo_yaml(path)
    assert config == dict(saved)
    assert env_settings(SPACE_INVADERS, config, {"render_mode": "rgb_array"}).frame_skip == 4


def test_qrdqn_q_values_are_the_mean_of_the_quantiles(tmp_path):
    env = atari_env()
    model = QRDQN("CnnPolicy", env, buffer_size=1, seed=2, device="cpu", policy_kwargs={"n_quantiles": 25})
    model.save(tmp_path / "qrdqn.zip")
    checkpoint = read_checkpoint(tmp_path / "qrdqn.zip")
    assert checkpoint.algo == "qrdqn"
    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)
    observations = random_observations(env)
    with torch.no_grad():
        expected = model.policy.quantile_net(torch.as_tensor(observations)).mean(dim=1).numpy()
    np.testing.assert_allclose(q_function(observations), expected, rtol=1e-5, atol=1e-6)
    greedy, _ = model.predict(observations, deterministic=True)
    np.testing.assert_array_equal(q_function(observations).argmax(axis=1), greedy)


def test_yaml_from_the_rl_zoo_is_read_with_its_ordered_dict_tag():
    config = read_rl_zoo_yaml(reference_path("hub-repos", f"sb3-2.4-dqn-{SPACE_INVADERS}", "config.yml"))
    assert config["frame_stack"] == 4
    assert config["env_wrapper"] == ["stable_baselines3.common.atari_wrappers.AtariWrapper"]
    settings = env_settings(SPACE_INVADERS, config, {"render_mode": "rgb_array"})
    assert settings.frame_skip == 4


# Bad and hostile input.


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def sb3_members(tmp_path: Path, algo=DQN, env_id: str = SPACE_INVADERS) -> dict[str, bytes]:
    model = (
        algo("CnnPolicy", atari_env(env_id), buffer_size=1, device="cpu")
        if algo is DQN
        else algo("CnnPolicy", atari_env(env_id), device="cpu", n_steps=8, batch_size=8)
    )
    model.save(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_pickle_in_the_weights_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "executed"
    members = sb3_members(tmp_path)
    members["policy.pth"] = pickle.dumps(Payload(marker))  # torch's legacy format is a bare pickle
    with pytest.raises(AgentError, match="not in torch's zip format"):
        read_checkpoint(write_zip(tmp_path / "evil.zip", members))
    assert not marker.exists()
    pickle.loads(members["policy.pth"])  # the payload is live: plain unpickling runs it
    assert marker.exists()


def test_torch_file_carrying_an_object_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "executed"
    members = sb3_members(tmp_path)
    buffer = io.BytesIO()
    torch.save({"q_net.q_net.0.weight": Payload(marker)}, buffer)
    members["policy.pth"] = buffer.getvalue()
    with pytest.raises(AgentError, match="plain tensors"):
        read_checkpoint(write_zip(tmp_path / "evil.zip", members))
    assert not marker.exists()


def test_pickles_in_the_data_file_are_never_opened(tmp_path):
    marker = tmp_path / "executed"
    members = sb3_members(tmp_path)
    data = json.loads(members["data"])
    blob = __import__("base64").b64encode(pickle.dumps(Payload(marker))).decode()
    for key in ("policy_class", "observation_space", "action_space", "lr_schedule", "exploration_schedule"):
        data[key][":serialized:"] = blob
    data["policy_kwargs"] = {":type:": "<class 'dict'>", ":serialized:": blob}
    members["data"] = json.dumps(data).encode()
    checkpoint = read_checkpoint(write_zip(tmp_path / "blobs.zip", members))
    env = atari_env()
    build_q_function(checkpoint, env.observation_space, env.action_space)
    assert not marker.exists()


def test_corrupt_zip_is_refused(tmp_path):
    path = tmp_path / "corrupt.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 10)
    with pytest.raises(AgentError, match="not a readable zip"):
        read_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    members = sb3_members(tmp_path)
    content = write_zip(tmp_path / "whole.zip", members).read_bytes()
    (tmp_path / "cut.zip").write_bytes(content[: len(content) // 2])
    with pytest.raises(AgentError, match="not a readable zip"):
        read_checkpoint(tmp_path / "cut.zip")


def test_checkpoint_without_weights_is_incomplete(tmp_path):
    members = sb3_members(tmp_path)
    del members["policy.pth"]
    with pytest.raises(AgentError, match="incomplete.*policy.pth"):
        read_checkpoint(write_zip(tmp_path / "no-weights.zip", members))


def test_data_that_is_not_json_is_refused(tmp_path):
    members = sb3_members(tmp_path)
    members["data"] = pickle.dumps({"policy_class": "x"})
    with pytest.raises(AgentError, match="not JSON"):
        read_checkpoint(write_zip(tmp_path / "pickled-data.zip", members))


def test_a_ppo_agent_is_not_a_dqn_agent(tmp_path):
    members = sb3_members(tmp_path, algo=PPO)
    with pytest.raises(AgentError, match="not a DQN or QR-DQN agent"):
        read_checkpoint(write_zip(tmp_path / "ppo.zip", members))


def test_an_agent_for_another_game_has_the_wrong_number_of_actions(tmp_path):
    members = sb3_members(tmp_path, env_id="BreakoutNoFrameskip-v4")
    checkpoint = read_checkpoint(write_zip(tmp_path / "breakout.zip", members))
    env = atari_env(SPACE_INVADERS)
    with pytest.raises(AgentError, match="trained with 4 actions but this game has 6"):
        build_q_function(checkpoint, env.observation_space, env.action_space)


def test_weights_of_the_wrong_shape_are_refused(tmp_path):
    members = sb3_members(tmp_path)
    state = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    state["q_net.q_net.0.weight"] = torch.zeros(6, 256)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    members["policy.pth"] = buffer.getvalue()
    checkpoint = read_checkpoint(write_zip(tmp_path / "shapes.zip", members))
    env = atari_env()
    with pytest.raises(AgentError, match="do not fit"):
        build_q_function(checkpoint, env.observation_space, env.action_space)


@pytest.mark.parametrize(
    "template",
    [
        "!!python/object/apply:subprocess.call [[touch, '{marker}']]\n",
        "frame_stack: 4\nenv_wrapper: !!python/object/apply:os.system ['touch {marker}']\n",
    ],
)
def test_yaml_that_would_run_code_is_refused_and_never_run(tmp_path, template):
    marker = tmp_path / "executed"
    config = tmp_path / "config.yml"
    config.write_text(template.format(marker=marker))
    with pytest.raises(AgentError, match="not plain RL Zoo YAML"):
        read_rl_zoo_yaml(config)
    assert not marker.exists()
    # The payload is live: the RL Zoo's own loader (UnsafeLoader) runs it.
    yaml.load(config.read_text(), Loader=yaml.UnsafeLoader)
    assert marker.exists()


@pytest.mark.parametrize(
    ("config", "env_kwargs", "message"),
    [
        ({"env_wrapper": "os.system", "frame_stack": 4}, {}, "only builds Atari agents"),
        ({**ATARI_CONFIG, "frame_stack": 10**9}, {}, "frame_stack must be"),
        ({**ATARI_CONFIG, "frame_stack": "4"}, {}, "frame_stack must be"),
        (
            {"env_wrapper": [{ATARI_CONFIG["env_wrapper"]: {"screen_size": 10**6}}], "frame_stack": 4},
            {},
            "out of range",
        ),
        (
            {"env_wrapper": [{ATARI_CONFIG["env_wrapper"]: {"exec": "rm"}}], "frame_stack": 4},
            {},
            "does not allow: exec",
        ),
        (ATARI_CONFIG, {"obs_type": "ram"}, "does not allow: obs_type"),
        (ATARI_CONFIG, {"repeat_action_probability": "high"}, "should be a float"),
        ({**ATARI_CONFIG, "normalize": True}, {}, "normalisation"),
    ],
)
def test_settings_outside_what_an_atari_agent_needs_are_refused(config, env_kwargs, message):
    with pytest.raises(AgentError, match=message):
        env_settings(SPACE_INVADERS, config, env_kwargs)


def test_weights_with_nan_or_infinity_are_refused_with_a_reason(tmp_path):
    members = sb3_members(tmp_path)
    weights = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    weights["q_net.q_net.0.bias"][3] = float("nan")
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    members["policy.pth"] = buffer.getvalue()
    with pytest.raises(AgentError, match=r"NaN or infinite values \(q_net\.q_net\.0\.bias.*diverged"):
        read_checkpoint(write_zip(tmp_path / "nan.zip", members))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (None, "[" * 100_000 + "]" * 100_000, "is not JSON"),  # deeper than Python's recursion limit
        ("n", "1e400", "not discrete"),  # infinity, as JSON reads it
        ("n", "100000", "100000 actions"),
        ("_shape", "[" + "9" * 40 + ", 84, 84]", "observation shape"),
    ],
    ids=["deeply nested", "infinite actions", "absurd actions", "absurd shape"],
)
def test_absurd_metadata_is_refused_with_a_reason(tmp_path, field, value, message):
    members = sb3_members(tmp_path)
    data = json.loads(members["data"])
    if field == "n":
        data["action_space"]["n"] = "SENTINEL"
    elif field == "_shape":
        data["observation_space"]["_shape"] = "SENTINEL"
    text = json.dumps(data).replace('"SENTINEL"', value) if field else value
    members["data"] = text.encode()
    with pytest.raises(AgentError, match=message):
        read_checkpoint(write_zip(tmp_path / "absurd.zip", members))


@pytest.mark.parametrize(
    ("env_kwargs", "message"),
    [
        (
            "mode: 999\n",
            "env_kwargs.yml asks for mode 999, which BreakoutNoFrameskip-v4 does not have: its modes are 0, 4,",
        ),
        (
            "difficulty: 3\n",
            "env_kwargs.yml asks for difficulty 3, which BreakoutNoFrameskip-v4 does not have: its difficulties are 0,",
        ),
    ],
)
def test_a_game_mode_or_difficulty_the_game_lacks_is_refused_by_name_before_play(hf_cache, env_kwargs, message):
    """The ALE itself refuses it (a bare RuntimeError as the environment is made); Play says which file,
    which value, and the game's own."""
    breakout = "BreakoutNoFrameskip-v4"
    key, value = next(iter(yaml.safe_load(env_kwargs).items()))
    with pytest.raises(RuntimeError, match="Invalid (game mode|difficulty) requested"):  # the emulator's word
        gym.make(breakout, **{key: value})
    repo_id = f"mallory/dqn-{breakout}"
    model_zip = hf_cache / "models--sb3--dqn-BreakoutNoFrameskip-v4" / "snapshots"
    model_zip = next(model_zip.glob(f"*/dqn-{breakout}.zip"))
    hub_cache.add_rl_zoo_repo(hf_cache, repo_id, breakout, model_zip, env_kwargs=env_kwargs)
    try:
        with pytest.raises(gr.Error) as refused:
            play_api(game="", repo_id=repo_id, max_steps=3)
        assert str(refused.value.message).startswith(f"{repo_id}: {message}")
        # The modes and difficulties it names are the ones the emulator takes.
        named = str(refused.value.message).split(" are ")[1].rstrip(".").split(", ")
        env = gym.make(breakout, **{key: int(named[-1])})
        env.close()
    finally:
        shutil.rmtree(hf_cache / f"models--{repo_id.replace('/', '--')}")


def test_the_largest_dqn_built_without_being_counted_first_is_under_the_cap():
    """A DQN with SB3's default settings is built for real without being counted on the meta device first (the
    count costs every evaluation worker a second): the largest the Arena's settings allow (16 frames of 256×256,
    18 actions) must be under ``MAX_PARAMETERS``, counted here with SB3's own classes on the meta device."""
    from stable_baselines3.common.torch_layers import NatureCNN
    from stable_baselines3.dqn.policies import QNetwork

    from agents.core.checkpoint import MAX_PARAMETERS
    from agents.core.environment import MAX_FRAME_STACK

    wrapper = "stable_baselines3.common.atari_wrappers.AtariWrapper"
    with pytest.raises(AgentError, match="out of range"):
        env_settings("BreakoutNoFrameskip-v4", {"env_wrapper": {wrapper: {"screen_size": 257}}}, {})
    space = gym.spaces.Box(0, 255, (MAX_FRAME_STACK, 256, 256), np.uint8)
    with torch.device("meta"):
        network = QNetwork(space, gym.spaces.Discrete(18), NatureCNN(space), features_dim=512)
    assert 20_000_000 < sum(p.numel() for p in network.parameters()) <= MAX_PARAMETERS
