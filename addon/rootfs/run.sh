#!/bin/sh
# The add-on's start: the user's options (/data/options.json) become the gateway's settings,
# with an API token made once and kept in /data; state stays in /data.
set -e
python3 -m lwm2m_gateway.supervisor /data/options.json /data /data/gateway.toml
exec lwm2m-gateway --config /data/gateway.toml
