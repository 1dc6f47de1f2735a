"""The contract between the infrastructure and the workloads: the environment variables the task definitions
set and the services read, the ports, the secret fields, the database name and the metrics namespace.

The CDK app writes these names into the task definitions and `services` reads them; neither side types them.
The last sections are the local deployment's side of the same idea: what `localenv` writes into the stack
record and `opscli` reads back, and what both call a read."""

from __future__ import annotations

# --- Data stores (both services) -------------------------------------------------------------------
DB_HOST = "DB_HOST"
DB_PORT = "DB_PORT"
DB_NAME = "DB_NAME"
DB_SSLMODE = "DB_SSLMODE"
DB_USERNAME = "DB_USERNAME"  # from the database secret (ECS `secrets`)
DB_PASSWORD = "DB_PASSWORD"  # from the database secret (ECS `secrets`)
DB_CA_BUNDLE = "DB_CA_BUNDLE"
REDIS_HOST = "REDIS_HOST"
REDIS_READER_HOST = "REDIS_READER_HOST"
REDIS_PORT = "REDIS_PORT"
REDIS_TLS = "REDIS_TLS"
REDIS_AUTH_TOKEN = "REDIS_AUTH_TOKEN"  # from the Redis AUTH secret (ECS `secrets`)
REDIS_CA_BUNDLE = "REDIS_CA_BUNDLE"
AWS_REGION = "AWS_REGION"
ENVIRONMENT = "ENVIRONMENT"

# --- Video worker ----------------------------------------------------------------------------------
INGEST_BUCKET = "INGEST_BUCKET"
INTAKE_QUEUE_URL = "INTAKE_QUEUE_URL"
INTAKE_DLQ_URL = "INTAKE_DLQ_URL"
SCRATCH_DIR = "SCRATCH_DIR"
WORKER_CONCURRENCY = "WORKER_CONCURRENCY"

# --- Metadata API ----------------------------------------------------------------------------------
PORT = "PORT"

# --- Values both sides agree on --------------------------------------------------------------------
DATABASE = "videometadata"  # the PostgreSQL database the stack creates and the services use
DB_SSLMODE_REQUIRED = "verify-full"
API_PORT = 8080  # the metadata API's container port (NLB target group, security groups, health check)
SCRATCH_MOUNT = "/scratch"  # where the worker's task mounts the EFS access point
INTAKE_MAX_RECEIVES = 3  # receives of an intake message before it is dead-lettered (redrive policy and worker)
METRIC_NAMESPACE = "StreamTech/Workloads"  # CloudWatch EMF namespace of the services' metrics (alarms read it)

# The JSON fields of the existing secrets the stack reads (it never creates or writes a secret).
SECRET_DB_USERNAME_FIELD = "username"
SECRET_DB_PASSWORD_FIELD = "password"
SECRET_REDIS_AUTH_FIELD = "authToken"

# Variables the task definitions must carry through ECS `secrets` (never plain `environment`).
SECRET_VARIABLES = frozenset({DB_USERNAME, DB_PASSWORD, REDIS_AUTH_TOKEN})

# --- The local deployment's stack record (localenv writes it, opscli reads it) ----------------------
LOCAL_NOT_EMULATED = "LOCAL_NOT_EMULATED"  # the status of a declared resource the emulator does not create

# --- What is a read (opscli's read-only guard sends only these; the emulator records none as a change) ------
# Operations that only read, by the prefix of their name (CloudTrail's readOnly events). The posture monitor's own
# names (CloudTrail's detail-type, the schedule's message) are in platform_spec.monitor.
READ_PREFIXES = ("Describe", "Get", "List", "Head", "BatchGet", "Lookup", "Search")
