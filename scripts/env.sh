# Sourced by the scripts: the venv and the pinned CDK CLI first on PATH; CDK quiet and offline.
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export CDK_DISABLE_CLI_TELEMETRY=true
# No AWS account here: any real endpoint is unreachable on purpose. Region fixed for the SDKs.
export AWS_DEFAULT_REGION=ap-northeast-1
# Our own modules and pytest's rewritten tests are compiled once and kept (__pycache__, git-ignored): where the
# machine sets PYTHONDONTWRITEBYTECODE, every process compiled them again (a fresh clone: `opscli --help` 0.28 s
# -> 0.21 s of CPU; every pytest worker, opscli, localenv, worker and Checkov process imports them).
unset PYTHONDONTWRITEBYTECODE
