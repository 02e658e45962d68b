"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine
runs here): the services, the settings the binaries really read, the shared
API socket, and nginx rendered from the same template as the local stack
(and accepted by `nginx -t`)."""
import os
import re
import subprocess

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def compose():
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def dockerfile():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        return f.read()


def settings_read_by(main_c):
    """The environment variables a program's cfg table declares."""
    with open(os.path.join(ROOT, main_c)) as f:
        return set(re.findall(r'"(TRAINYARD_[A-Z_]+)"', f.read()))


def env_of(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: str(v) for k, v in env.items()}


def test_services_present(compose):
    for s in ("postgres", "api", "trainer", "nginx"):
        assert s in compose["services"], s
    assert str(compose["services"]["postgres"]["image"]).startswith("postgres:15")


def test_settings_are_ones_the_binaries_read(compose):
    api_vars = settings_read_by("handlers/main.c")
    trainer_vars = settings_read_by("trainer/main.c")
    cli_vars = settings_read_by("cli/main.c") | {"TRAINYARD_SQL_DIR"}
    services = compose["services"]
    for name, known in (("api", api_vars), ("trainer", trainer_vars), ("migrate", cli_vars)):
        env = env_of(services[name])
        assert "TRAINYARD_DATABASE_URL" in env, name
        assert "@postgres:" in env["TRAINYARD_DATABASE_URL"], name
        unknown = {k for k in env if k.startswith("TRAINYARD_")} - known
        assert not unknown, (name, unknown)


def url_parts(url):
    m = re.match(r"postgresql://([^:]+):([^@]+)@postgres:5432/(\w+)$", url)
    assert m, url
    return m.groups()


def test_database_credentials_match(compose):
    pg = env_of(compose["services"]["postgres"])
    user, password, db = url_parts(env_of(compose["services"]["migrate"])["TRAINYARD_DATABASE_URL"])
    assert (user, password, db) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])
    # The migrate one-shot gives the application role the password the API uses.
    app_pw = env_of(compose["services"]["migrate"])["TRAINYARD_APP_DB_PASSWORD"]
    for name in ("api", "trainer"):
        u, p, d = url_parts(env_of(compose["services"][name])["TRAINYARD_DATABASE_URL"])
        assert (u, p, d) == ("trainyard_app", app_pw, pg["POSTGRES_DB"]), name


def test_no_app_connection_as_superuser(compose):
    # POSTGRES_USER is the image's superuser: only migrate may use it.
    su = env_of(compose["services"]["postgres"])["POSTGRES_USER"]
    for name, svc in compose["services"].items():
        url = env_of(svc).get("TRAINYARD_DATABASE_URL")
        if url and name != "migrate":
            assert not url.startswith("postgresql://%s:" % su), name
    with open(os.path.join(ROOT, "sql", "0010_least_privilege.sql")) as f:
        assert "trainyard_app" in f.read()


def test_no_default_password():
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        text = f.read()
    refs = re.findall(r"\$\{([A-Z_]*PASSWORD[A-Z_]*)([^}]*)\}", text)
    assert refs
    for name, rest in refs:
        assert rest.startswith(":?"), (name, rest)  # required, never defaulted
    # No literal password anywhere: every password setting is a ${...} reference.
    for line in text.splitlines():
        m = re.match(r"\s*[A-Z_]*PASSWORD[A-Z_]*:\s*(.+)$", line)
        if m:
            assert m.group(1).startswith("${"), line
        for url_pw in re.findall(r"postgresql://[^:/]+:([^@]+)@", line):
            assert url_pw.startswith("${"), line


def test_containers_run_unprivileged(compose, dockerfile):
    for name, svc in compose["services"].items():
        assert str(svc.get("user", "")) not in ("", "root", "0", "0:0"), name
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")


def test_api_and_nginx_share_the_socket(compose):
    api, nginx = compose["services"]["api"], compose["services"]["nginx"]
    sock = env_of(api)["TRAINYARD_SOCKET"]
    assert env_of(nginx)["NGINX_API_SOCKET"] == sock
    assert env_of(api)["TRAINYARD_SOCKET_GROUP"] == "www-data"
    assert nginx["user"] == "www-data"
    api_vols = {v.split(":")[0]: v.split(":")[1] for v in api["volumes"]}
    ngx_vols = {v.split(":")[0]: v.split(":")[1] for v in nginx["volumes"]}
    shared = [k for k in api_vols if k in ngx_vols and api_vols[k] == ngx_vols[k]]
    assert shared and os.path.dirname(sock) == api_vols[shared[0]]
    assert shared[0] in compose["volumes"]


def test_nginx_uses_the_template_and_port(compose):
    nginx = compose["services"]["nginx"]
    cmd = " ".join(nginx["command"]) if isinstance(nginx["command"], list) else nginx["command"]
    assert "nginx/render.sh" in cmd and "trainyard.conf.in" in cmd
    assert "-e stderr" in cmd and "-p " in cmd
    # The error log quotes URLs: it leaves through the redacting filter.
    assert "2> >(exec stdbuf -oL sed -E -f nginx/redact.sed" in cmd and nginx["command"][0] == "bash"
    listen = env_of(nginx)["NGINX_LISTEN"]
    ports = nginx["ports"]
    assert any(str(p).endswith(":" + listen.split(":")[-1]) for p in ports), ports


def test_rendered_compose_nginx_config_passes_nginx_t(compose, tmp_path):
    env = dict(os.environ)
    env.update(env_of(compose["services"]["nginx"]))
    # Same config, with writable paths and no user switch for the syntax check.
    env["NGINX_PREFIX"] = str(tmp_path)
    env["NGINX_LOG_DIR"] = str(tmp_path)
    env["NGINX_WWW_DIR"] = os.path.join(ROOT, "nginx", "www")
    env["NGINX_USER_LINE"] = ""
    env["NGINX_LISTEN"] = "127.0.0.1:1"
    out = subprocess.run([os.path.join(ROOT, "nginx", "render.sh")], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "fastcgi_pass trainyard_api" in out
    assert "unix:" + env_of(compose["services"]["api"])["TRAINYARD_SOCKET"] in out
    conf = tmp_path / "nginx.conf"
    conf.write_text(out)
    (tmp_path / "tmp").mkdir()
    p = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-e", "stderr", "-c", str(conf)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_dockerfile(dockerfile):
    assert re.search(r"^FROM debian:12", dockerfile, re.M)
    assert "make" in dockerfile and "programs" in dockerfile
    for piece in ("trainyard-api", "trainyard-trainer", "COPY sql/", "COPY nginx/",
                  "nginx-light", "libxgboost0"):
        assert piece in dockerfile, piece
    assert os.path.exists(os.path.join(ROOT, ".dockerignore"))


def test_compose_build_context_has_what_the_dockerfile_copies(dockerfile):
    for src in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        if src != ".":
            assert os.path.exists(os.path.join(ROOT, src)), src


def makefile_var(name):
    """A Makefile variable's words (one `NAME :=` or `NAME =` line)."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        m = re.search(r"^%s\s*:?=\s*(.+)$" % name, f.read(), re.M)
    assert m, name
    return m.group(1).split()


def copied_from_build(dockerfile):
    """The files the final stage copies out of the build stage, by base name."""
    names = set()
    for m in re.finditer(r"^COPY --from=build\s+((?:.*\\\n)*.*)$", dockerfile, re.M):
        words = m.group(1).replace("\\\n", " ").split()
        names.update(os.path.basename(w.rstrip("/")) for w in words[:-1])
    return names


def test_dockerfile_copies_every_program(dockerfile):
    programs = [p.replace("$(BUILD)/", "") for p in makefile_var("PROGRAMS")]
    assert "trainyard-score" in programs and "trainyard-api" in programs, programs
    missing = set(programs) - copied_from_build(dockerfile)
    assert not missing, "the image lacks %s (Makefile PROGRAMS)" % sorted(missing)
    # The portable scorer's files, as the checkout has them.
    assert re.search(r"^COPY scorer/ \S+", dockerfile, re.M)


# pkg-config module (Makefile PKGS) -> Debian -dev package (build stage) and
# runtime library package (final stage). A module added to PKGS without a
# line here fails the test, so the image cannot silently lose a library.
PKG_DEBIAN = {
    "json-c": ("libjson-c-dev", "libjson-c5"),
    "libxml-2.0": ("libxml2-dev", "libxml2"),
    "libpq": ("libpq-dev", "libpq5"),
    "libarchive": ("libarchive-dev", "libarchive13"),
    "libcrypto": ("libssl-dev", "libssl3"),
    "xgboost": ("libxgboost-dev", "libxgboost0"),
    "libseccomp": ("libseccomp-dev", "libseccomp2"),
    "libcurl": ("libcurl4-openssl-dev", "libcurl4"),
}


def test_dockerfile_installs_every_linked_library(dockerfile):
    build, final = dockerfile.split("\nFROM ", 2)[1:3]
    for module in makefile_var("PKGS"):
        assert module in PKG_DEBIAN, "no Debian package known for pkg-config module %s" % module
        dev, lib = PKG_DEBIAN[module]
        assert re.search(r"\b%s\b" % re.escape(dev), build), (module, dev)
        assert re.search(r"\b%s\b" % re.escape(lib), final), (module, lib)
    # -lfcgi is linked without pkg-config.
    assert "libfcgi-dev" in build and "libfcgi0ldbl" in final
    # The sandbox runner's tools, as the local stack's trainer host has them.
    assert "bubblewrap" in final and "python3-xgboost" in final
