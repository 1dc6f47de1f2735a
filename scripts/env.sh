# Sourced by the scripts: the venv and the pinned CDK CLI first on PATH; CDK quiet and offline.
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export CDK_DISABLE_CLI_TELEMETRY=true
# No AWS account here: any real endpoint is unreachable on purpose. Region fixed for the SDKs.
export AWS_DEFAULT_REGION=ap-northeast-1
