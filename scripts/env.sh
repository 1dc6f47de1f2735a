# Sourced by the scripts: the venv and the pinned CDK CLI first on PATH; CDK quiet and offline.
# Works from any directory, in bash and zsh: the repository is found from this file's own location, not $PWD.
if [ -n "${BASH_VERSION:-}" ]; then
  _streamtech_env=${BASH_SOURCE[0]}
elif [ -n "${ZSH_VERSION:-}" ]; then
  eval '_streamtech_env=${(%):-%x}'  # zsh's name of the file being sourced (eval: bash cannot parse it)
else
  _streamtech_env=scripts/env.sh  # another shell says nothing of what it sources: from the repository's root only
fi
_streamtech_hops=0
while [ -L "$_streamtech_env" ] && [ "$_streamtech_hops" -lt 40 ]; do  # through a link: where the file itself is
  _streamtech_hops=$((_streamtech_hops + 1))
  _streamtech_link=$(readlink -- "$_streamtech_env")
  case $_streamtech_link in
    /*) _streamtech_env=$_streamtech_link ;;
    *) _streamtech_env=$(dirname -- "$_streamtech_env")/$_streamtech_link ;;
  esac
done
if _streamtech_root=$(CDPATH='' cd -- "$(dirname -- "$_streamtech_env")/.." 2>/dev/null && pwd -P) &&
    [ -f "$_streamtech_root/scripts/env.sh" ]; then
  export PATH="$_streamtech_root/.venv/bin:$_streamtech_root/node_modules/.bin:$PATH"
  export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
  export CDK_DISABLE_CLI_TELEMETRY=true
  # No AWS account here: any real endpoint is unreachable on purpose. Region fixed for the SDKs.
  export AWS_DEFAULT_REGION=ap-northeast-1
  # Our own modules, the libraries (set-up compiles none: scripts/setup.sh) and pytest's rewritten tests are
  # compiled once and kept (__pycache__, git-ignored): where the machine sets PYTHONDONTWRITEBYTECODE, every process
  # compiled them again (a fresh clone: `opscli --help` 0.28 s -> 0.21 s of CPU; every pytest worker, opscli,
  # localenv, worker and Checkov process imports them). A process started without this file still reads what one
  # started with it kept.
  unset PYTHONDONTWRITEBYTECODE
  unset _streamtech_env _streamtech_root _streamtech_link _streamtech_hops
else
  echo "scripts/env.sh: no repository around $_streamtech_env (in a shell other than bash or zsh, source it from" \
    "the repository's root)" >&2
  unset _streamtech_env _streamtech_root _streamtech_link _streamtech_hops
  false
fi
