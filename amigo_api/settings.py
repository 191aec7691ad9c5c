"""Settings read from `AMIGO_*` environment variables."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from amigo_api.core.ids import ORG_ID_PATTERN, is_reserved_org_id


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMIGO_", env_file=None, extra="ignore")

    # MongoDB: named clusters. The infra-config database (org -> cluster map, signing keys,
    # maintenance switch) lives on the default cluster.
    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_clusters: dict[str, str] = Field(default_factory=dict)
    default_cluster: str = "default"
    database_name: str = "amigo"
    infra_database_name: str = "amigo_infra"
    # Every MongoDB operation gives up after this long (a request then answers 503, never hangs).
    mongo_timeout_ms: int = 30_000

    # `serve` and `worker` wait this long for MongoDB and Temporal at start-up, retrying, before they give up.
    startup_wait_seconds: float = Field(default=120.0, gt=0)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "amigo-api"
    temporal_required: bool = False
    # A Temporal cluster over TLS, or Temporal Cloud: an API key, or a client certificate (mTLS).
    temporal_tls: bool = False
    temporal_api_key: str | None = None
    temporal_tls_cert_file: str | None = None
    temporal_tls_key_file: str | None = None
    temporal_tls_ca_file: str | None = None

    # First credentials without a shell: at start-up, an API process creates this organization (once, whatever the
    # number of replicas) with a user and an API key, and writes them to the file (mode 0600).
    init_org: str | None = Field(default=None, pattern=ORG_ID_PATTERN)
    init_user_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    init_role: Literal["DefaultUserRole", "DefaultAdministratorRole", "DefaultAmigoAdministratorRole",
                       "DefaultSuperAdministratorRole"] = "DefaultSuperAdministratorRole"
    init_credentials_file: str = "init-credentials.json"

    # Encrypts secrets at rest (JWT signing keys). Any string of at least 32 characters.
    secret_key: str = ""
    token_lifetime_seconds: int = 3600
    signing_key_rotation_days: int = 30
    jwt_issuer: str = "amigo-api"

    rate_limit_storage: str = "memory://"
    rate_limit_scale: float = 1.0

    # Principal (user role and grants) cache per API process; bounds how long a role change
    # made on another replica takes to apply.
    principal_cache_seconds: float = 2.0
    maintenance_poll_seconds: float = 2.0

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "no-reply@amigo.local"

    models_file: str | None = None

    # Large bodies (prompt logs, SQL results) live in the blob store: a directory by default.
    blob_root: str = ".amigo/blobs"
    prompt_log_retention_days: int = 30

    # Read-only SQL over an organization's data (DuckDB).
    sql_enabled: bool = True
    sql_timeout_seconds: float = 30.0
    sql_async_timeout_seconds: float = 900.0
    sql_memory_limit: str = "1GB"
    sql_threads: int = 2
    sql_result_url_seconds: int = 3600
    # A synchronous answer stops (truncated) at 1,000 rows or about this many bytes of values.
    sql_max_result_bytes: int = 10 * 1024 * 1024
    # A cached snapshot is rebuilt after this long even without counted writes (TTL deletions are not counted).
    sql_snapshot_max_age_seconds: float = 300.0

    # Per-organization bare git repositories of tools, served by `git http-backend`.
    git_root: str = ".amigo/git"
    # Branches that refuse force pushes and deletion through the git endpoint.
    git_protected_branches: list[str] = Field(default_factory=lambda: ["main"])
    # One git operation (a clone, fetch or push through `git http-backend`) is killed after this long.
    git_timeout_seconds: float = 600.0
    # Commit history walks at most this many commits for one page (deeper pages are refused).
    git_history_max_commits: int = 10_000
    # A deleted tool environment variable's name cannot be inserted again for this long: versions still
    # running may read it.
    tool_envvar_delete_grace_seconds: float = 3600.0
    # The tool runner (docs/tools.md): `amigo-api worker` serves this Temporal task queue; runs and builds of
    # tool code happen only there.
    tool_task_queue: str = "tools"
    # Built environments, content-addressed by the project's files (shared by the runs of a worker host).
    tool_build_root: str = ".amigo/tool-builds"
    # Where `uv` finds packages: an index (None: uv's default, PyPI), local wheel folders, and whether to
    # stay offline (then every dependency must be in `tool_find_links` or uv's cache).
    tool_index_url: str | None = None
    tool_find_links: list[str] = Field(default_factory=list)
    tool_build_offline: bool = False
    tool_build_timeout_seconds: float = 600.0
    # Limits of one run of tool code in the sandbox.
    tool_run_timeout_seconds: float = 30.0
    tool_test_timeout_seconds: float = 300.0
    tool_cpu_seconds: int = 60
    tool_memory_mb: int = 1024
    tool_max_processes: int = 64
    tool_max_open_files: int = 256
    tool_max_file_mb: int = 64
    # A run as a whole (its cgroup): the memory of all its processes, /tmp's pages included; and /tmp's size.
    tool_run_memory_mb: int = 1024
    tool_tmp_mb: int = 256
    # Runs without a cgroup of their own are refused (true), or bounded by per-process limits only (false: `dev`).
    tool_require_cgroups: bool = True
    # A root worker runs each tool as a uid of the run's own, from this range, leased across the host's workers
    # with a lock file per uid in this folder (every worker of a host must share it, or use ranges apart).
    tool_uid_first: int = Field(default=200_000, ge=1000)
    tool_uid_count: int = Field(default=256, ge=1)
    tool_uid_lock_dir: str = "/run/amigo-api/tool-uids"
    # Development only: run tool code without bubblewrap (no isolation at all; every run logs a warning).
    tool_sandbox: bool = True
    # Give tool code the host's network (egress to anything the worker reaches, the database included unless
    # the network keeps it apart). Off: the sandbox has only its own loopback.
    tool_network: bool = False
    # LLM analytics evaluation runs: their task queue, the judge's default model, and the trial: a provider key
    # the operator pays for, used within each environment's trial quota (none by default: BYOK only).
    llm_evaluations_task_queue: str = "llm-evaluations"
    llm_judge_model: str = "gpt-5-mini"
    llm_trial_api_key: str | None = None
    llm_trial_base_url: str | None = None
    # The worker touches this file every 10 s; `amigo-api healthcheck worker` reads its age.
    worker_heartbeat_file: str = "/tmp/amigo-worker-heartbeat"
    # How often the worker looks for captured generations to match against enabled evaluations.
    evaluation_dispatch_seconds: float = 0.2
    # Limits of one run of a Hog program (evaluations, test_hog).
    hog_timeout_seconds: float = 5.0
    hog_memory_mb: int = 64
    # Hog programs run in child processes of each API process and worker: how many at once, how many of them one
    # organization may use (fewer, so one organization never holds them all), and the time all the programs of
    # one test_hog request may take.
    hog_processes: int = Field(default=4, ge=2)
    hog_processes_per_organization: int = Field(default=2, ge=1)
    hog_test_budget_seconds: float = Field(default=15.0, gt=0)
    # Outbound calls to addresses tenants store (LLM provider keys' base URLs): private, loopback, link-local and
    # other non-global addresses are refused unless allowed here; hosts (or host:port) listed are always allowed.
    outbound_allow_private: bool = False
    outbound_allowed_hosts: list[str] = Field(default_factory=list)
    # A proxy for those calls (http://host:port); unset, the standard HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply.
    outbound_proxy: str | None = None
    # Request bodies: the default limit for JSON endpoints (routes that need more declare their own).
    max_body_bytes: int = 2 * 1024 * 1024
    log_level: str = "INFO"
    log_json: bool = True
    # The share of requests that get an access log line (1: every one, 0.1: one in ten, 0: none). Errors
    # (status 500 and up) are always logged; metrics count every request either way.
    access_log_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    # FastAPI's own OpenTelemetry traces, metrics and logs, for a process with an OpenTelemetry SDK configured.
    # Off by default: Prometheus metrics and the JSON logs do not need it, and it costs every request a check.
    opentelemetry: bool = False

    @field_validator("init_org")
    @classmethod
    def _init_org_not_reserved(cls, org_id: str | None) -> str | None:
        if org_id and is_reserved_org_id(org_id):
            raise ValueError("the API's paths use this name: choose another organization ID")
        return org_id

    @model_validator(mode="after")
    def _client_certificate_whole(self) -> "Settings":
        if bool(self.temporal_tls_cert_file) != bool(self.temporal_tls_key_file):
            raise ValueError("AMIGO_TEMPORAL_TLS_CERT_FILE and AMIGO_TEMPORAL_TLS_KEY_FILE go together: set both or "
                             "neither")
        return self

    @model_validator(mode="after")
    def _hog_processes_are_shared(self) -> "Settings":
        if self.hog_processes_per_organization >= self.hog_processes:
            raise ValueError("AMIGO_HOG_PROCESSES_PER_ORGANIZATION must be smaller than AMIGO_HOG_PROCESSES, so that "
                             "one organization cannot hold every Hog process")
        return self

    def clusters(self) -> dict[str, str]:
        """All named clusters; the default one is always present."""
        return {self.default_cluster: self.mongo_uri, **self.mongo_clusters}


@lru_cache
def get_settings() -> Settings:
    return Settings()
