#!/bin/sh
# Start an Envoy (gateway or sidecar) in a compose container: write its bootstrap with
# `meshpilot bootstrap`, using the container's own address in the node id, then run Envoy.
#   compose-proxy.sh router istio-system ingressgateway-1 istio=ingressgateway
#   compose-proxy.sh sidecar default mocka-v1 app=mocka version=v1 ASM_TRAFFIC_TAG=v1
set -eu
role=$1 namespace=$2 pod=$3
shift 3
labels=""
for l in "$@"; do labels="$labels --label $l"; done
ip=$(hostname -i | awk '{print $1}')
# shellcheck disable=SC2086
meshpilot bootstrap --role "$role" --ip "$ip" --pod "$pod" --namespace "$namespace" $labels \
  --xds-address meshpilot:15010 --admin-port 15000 --file /tmp/envoy.yaml
exec envoy -c /tmp/envoy.yaml --log-level warn
