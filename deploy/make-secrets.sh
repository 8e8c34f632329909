#!/usr/bin/env bash
# Makes what a secured hpo cluster needs, in DIR (default deploy/secrets, which git ignores):
#   tokens        the coordinator's --token-file: one admin, one client and one worker token
#   admin-token, client-token, worker-token   each token alone, for --token-file / $HPO_TOKEN
#   ca.crt ca.key a private CA; tls.crt tls.key the coordinator's certificate, for the names
#                 given with -n (default: localhost, 127.0.0.1, hpo-coordinator and its
#                 Kubernetes service names)
# Every secret is mode 600. Run it once; it refuses to overwrite an existing DIR.
#   deploy/make-secrets.sh [-n NAME]... [DIR]
set -euo pipefail
names=()
while getopts "n:" opt; do
  case "$opt" in
    n) names+=("$OPTARG") ;;
    *) echo "usage: $0 [-n NAME]... [DIR]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
dir="${1:-$(dirname "$0")/secrets}"
if [ ${#names[@]} -eq 0 ]; then
  names=(localhost 127.0.0.1 hpo-coordinator hpo-coordinator.hpo.svc hpo-coordinator.hpo.svc.cluster.local)
fi
if [ -e "$dir" ]; then
  echo "make-secrets: $dir exists; remove it first to make new secrets" >&2
  exit 1
fi
umask 077
mkdir -p "$dir"
cd "$dir"
for role in admin client worker; do
  openssl rand -hex 32 > "$role-token"
done
{
  echo "# role token -- hpo-coordinator --token-file"
  for role in admin client worker; do echo "$role $(cat "$role-token")"; done
} > tokens
san=""
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=hpo cluster CA"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out tls.key 2>/dev/null
openssl req -new -key tls.key -out tls.csr -subj "/CN=${names[0]}"
printf 'subjectAltName=%s\n' "${san%,}" > tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 825 \
  -extfile tls.ext 2>/dev/null
rm -f tls.csr tls.ext ca.srl
chmod 600 ./*
echo "make-secrets: wrote $(ls | tr '\n' ' ')to $dir"
