"""docker-compose.yml, the Dockerfile and infra/ stay in step with the code.

There is no Docker engine in CI, so the deployment is checked structurally: every COPYDESK_
variable it sets is a real setting, every `copydesk` command it runs parses with the real CLI,
the MinIO webhook points at the listener with the listener's token, workers can be scaled, and
the image installs from the lock file as a non-root user with no secret in it.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from worker.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SETUP_SCRIPT = ROOT / "infra" / "minio" / "setup.sh"

EXPECTED_SERVICES = {"redis", "minio", "minio-setup", "listener", "worker", "indexer", "beat", "flower"}
COPYDESK_ROLES = ("listener", "worker", "beat", "flower", "indexer")
SETTING_NAMES = {PREFIX + name.upper() for name in Settings.model_fields}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}; `$$` is a literal dollar.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|ACCESS_KEY)", re.I)


def interpolate(value: str) -> str:
    """What compose makes of a value with an empty host environment: the defaults."""

    def replace(match: re.Match) -> str:
        if match["op"] and match["op"].endswith("?"):
            raise AssertionError(f"{match[0]} makes `docker compose config` fail without that variable")
        return match["arg"] or ""

    return INTERPOLATION.sub(replace, value).replace("$$", "$")


def resolved(node):
    if isinstance(node, str):
        return interpolate(node)
    if isinstance(node, list):
        return [resolved(item) for item in node]
    if isinstance(node, dict):
        return {key: resolved(value) for key, value in node.items()}
    return node


@pytest.fixture(scope="module")
def compose() -> dict:
    return resolved(yaml.safe_load(COMPOSE_FILE.read_text()))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def copydesk_cli() -> click.Group:
    from worker import cli as cli_module

    cli_module.register_feature_commands()
    return cli_module.cli


def parse_copydesk(argv: list[str]) -> click.Context:
    """Parse a `copydesk ...` command line with the real CLI, without running it."""
    group = copydesk_cli()
    name, rest = argv[1], list(argv[2:])
    parent = click.Context(group, info_name="copydesk")
    sub = group.get_command(parent, name)
    if sub is None:
        raise click.UsageError(f"`copydesk {name}` is not a command")
    return sub.make_context(name, rest, parent=parent)


def test_compose_has_every_role(services):
    assert set(services) == EXPECTED_SERVICES


def test_no_fixed_container_names_and_workers_scale(services):
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: container_name forbids --scale"
    worker = services["worker"]
    assert "ports" not in worker, "worker publishes host ports: `--scale worker=4` would collide"
    assert worker.get("stop_grace_period"), "workers need time for a warm shutdown"


def test_published_ports_bind_loopback_only(services):
    for name, service in services.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_every_copydesk_variable_is_a_setting(services):
    for name, service in services.items():
        for variable in environment(service):
            if variable.startswith(PREFIX):
                assert variable in SETTING_NAMES, f"{name}: {variable} is not in worker/settings.py"


def test_copydesk_roles_get_a_valid_configuration(services):
    for role in COPYDESK_ROLES:
        env = environment(services[role])
        settings = Settings.from_env({k: v for k, v in env.items() if k.startswith(PREFIX)})
        assert settings.store.startswith("s3://"), role
        assert settings.broker_url.startswith("redis://redis:6379/"), role
        assert env["AWS_ENDPOINT_URL"] == "http://minio:9000", role
        assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"], role


def test_every_copydesk_command_parses_with_the_real_cli(services):
    seen = set()
    for service in services.values():
        argv = command(service)
        if argv[:1] == ["copydesk"]:
            ctx = parse_copydesk(argv)
            seen.add(ctx.info_name)
    assert {"listen", "worker", "beat"} <= seen


def test_a_bad_copydesk_command_would_be_caught():
    with pytest.raises(click.UsageError):
        parse_copydesk(["copydesk", "listen", "--no-such-option"])
    with pytest.raises(click.UsageError):
        parse_copydesk(["copydesk", "no-such-command"])


def test_celery_commands_name_the_real_app(services):
    from worker.app import app

    assert app.main == "copydesk"
    flower = command(services["flower"])
    assert flower[:4] == ["celery", "-A", "worker.app", "flower"]
    # The worker's health is its /metrics port: no broker round trip.
    port = Settings.from_env({k: v for k, v in environment(services["worker"]).items() if k.startswith(PREFIX)}).metrics_port
    health = " ".join(services["worker"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/metrics" in health and "inspect" not in health
    assert str(port) in [str(p) for p in services["worker"]["expose"]]


def test_flower_api_has_basic_auth(services):
    env = environment(services["flower"])
    user, _, password = env["FLOWER_BASIC_AUTH"].partition(":")
    assert user and password, "without FLOWER_BASIC_AUTH flower's API answers 401 (FLOWER_UNAUTHENTICATED_API)"
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["flower"]["environment"]["FLOWER_BASIC_AUTH"]
    assert raw.startswith("${FLOWER_BASIC_AUTH"), "the credentials come from the environment"


def test_flower_is_installable_from_the_lock(services):
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^flower\s*=\s*\[\s*\"flower", pyproject, re.M), "the `flower` extra is gone"
    assert 'name = "flower"' in (ROOT / "uv.lock").read_text()


def test_listener_health_and_webhook_point_at_the_listener(services):
    listen = parse_copydesk(command(services["listener"]))
    host, _, port = listen.params["http_address"].rpartition(":")
    assert host == "0.0.0.0"
    health = " ".join(services["listener"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in health

    minio_env = environment(services["minio"])
    targets = {k[len("MINIO_NOTIFY_WEBHOOK_ENABLE_"):] for k, v in minio_env.items()
               if k.startswith("MINIO_NOTIFY_WEBHOOK_ENABLE_") and v == "on"}
    assert len(targets) == 1, targets
    target = targets.pop()
    assert target == target.lower(), "an upper-case target id may be lower-cased by MinIO, breaking the ARN"
    assert minio_env[f"MINIO_NOTIFY_WEBHOOK_ENDPOINT_{target}"].startswith(f"http://listener:{port}/")
    token = environment(services["listener"])["COPYDESK_HTTP_TOKEN"]
    assert token, "the webhook must not be open"
    assert minio_env[f"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_{target}"] == token
    assert environment(services["minio-setup"])["WEBHOOK_ARN"] == f"arn:minio:sqs::{target}:webhook"
    for role in COPYDESK_ROLES[1:]:
        assert "COPYDESK_HTTP_TOKEN" not in environment(services[role]), f"{role} does not need the webhook token"


def test_minio_setup_makes_the_bucket_the_app_uses(services):
    setup = services["minio-setup"]
    assert setup["image"].split(":")[0].endswith("minio/mc")
    assert setup["restart"] == "no"
    assert setup["depends_on"]["minio"]["condition"] == "service_healthy"
    mounts = [str(v) for v in setup["volumes"]]
    assert any(m.startswith("./infra/minio:/setup") for m in mounts)
    assert "/setup/setup.sh" in " ".join(setup["entrypoint"])

    env = environment(setup)
    app_env = environment(services["worker"])
    settings = Settings.from_env({k: v for k, v in app_env.items() if k.startswith(PREFIX)})
    assert settings.store == f"s3://{env['BUCKET_NAME']}"
    assert env["INPUT_PREFIX"] == settings.input_prefix
    assert (env["APP_S3_ACCESS_KEY"], env["APP_S3_SECRET_KEY"]) == (
        app_env["AWS_ACCESS_KEY_ID"], app_env["AWS_SECRET_ACCESS_KEY"])
    assert env["MINIO_ROOT_USER"] != app_env["AWS_ACCESS_KEY_ID"], "the app must not run as MinIO root"

    required = set(re.findall(r'"\$\{([A-Z_]+):\?\}"', SETUP_SCRIPT.read_text()))
    assert required, "setup.sh no longer checks its inputs"
    assert required <= set(env), f"setup.sh needs {sorted(required - set(env))}"
    for role in COPYDESK_ROLES[:3]:
        depends = services[role]["depends_on"]
        assert depends["minio-setup"]["condition"] == "service_completed_successfully", role
        assert depends["redis"]["condition"] == "service_healthy", role


def test_services_that_can_say_they_are_healthy_do(services):
    for name in ("redis", "minio", "listener", "worker", "flower"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_beat_keeps_its_schedule_in_a_writable_volume(services):
    beat = parse_copydesk(command(services["beat"]))
    args = list(beat.params["celery_args"])
    schedule = Path(args[args.index("--schedule") + 1])
    assert any(str(v).endswith(":" + str(schedule.parent)) for v in services["beat"]["volumes"])
    assert f"/var/lib/copydesk/{schedule.parent.name}" in DOCKERFILE.read_text()


# -- Dockerfile ---------------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_image_is_slim_python_and_runs_as_a_user():
    instructions = dockerfile_instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    bases = [rest.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for word, rest in instructions if word == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    users = [rest for word, rest in instructions if word == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert [w for w, _ in instructions].index("USER") > max(i for i, (w, _) in enumerate(instructions) if w == "FROM")


def test_image_installs_from_the_lock_with_the_flower_extra():
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    for fragment in ("uv sync --frozen --no-dev --extra flower",):
        assert fragment in runs
    assert "pip install --no-cache-dir \"uv==" in runs
    assert "pip install ." not in runs and "uv pip" not in runs, "install from the lock file only"


def test_image_bakes_in_no_secret():
    for word, rest in dockerfile_instructions():
        if word in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest) or [rest.split()[0]]
            for name in names:
                assert not SECRET_NAME.search(name), f"{word} {name} would bake a secret into the image"
    assert "AWS_" not in DOCKERFILE.read_text()


def dockerignore_excludes(path: str) -> bool:
    excluded = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.rstrip("/")
        candidates = [path] + [str(Path(*Path(path).parts[:i])) for i in range(1, len(Path(path).parts))]
        if any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.replace("**/", "")) for c in candidates):
            excluded = not negate
    return excluded


def test_every_copied_path_exists_and_reaches_the_build_context():
    copied = []
    for word, rest in dockerfile_instructions():
        if word == "COPY" and "--from=" not in rest:
            copied += [p for p in rest.split()[:-1] if not p.startswith("--")]
    assert {"pyproject.toml", "uv.lock", "tasks", "worker"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert not dockerignore_excludes(source), f"COPY {source}: excluded by .dockerignore"
    for private in (".venv", ".git", "tests", "data", ".env"):
        assert dockerignore_excludes(private), f"{private} would be sent to the Docker daemon"


def test_index_work_has_its_own_worker_and_every_queue_is_consumed(services):
    from worker.app import ARTICLES_QUEUE, INDEX_BATCH, INDEX_MERGE, INDEX_QUEUE, INDEX_REMOVE, QUEUES, app

    articles = parse_copydesk(command(services["worker"])).params["queues"].split(",")
    index = parse_copydesk(command(services["indexer"])).params["queues"].split(",")
    assert ARTICLES_QUEUE in articles and INDEX_QUEUE not in articles, "index batches would take article pool slots"
    assert index == [INDEX_QUEUE]
    assert set(articles) | set(index) == set(QUEUES), "a queue nobody consumes"
    routes = app.conf.task_routes
    assert {routes[name]["queue"] for name in (INDEX_BATCH, INDEX_MERGE, INDEX_REMOVE)} == {INDEX_QUEUE}
