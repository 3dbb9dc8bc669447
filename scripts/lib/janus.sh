# Janus for the benchmark scripts (sourced, not run): the audio-only configuration in
# deploy/janus/ written out with this run's config directory and WebSocket port.
#
#   janus_config DIR PORT      writes the configuration into DIR
#   janus_host_ip              the host's own IPv4 address (Janus's ICE does not gather
#                              on loopback, so the generator's members bind this one)

janus_config() {
  local dir=$1 port=$2 f
  [ -x /usr/bin/janus ] || { echo "Janus is missing: apt-get install janus" >&2; return 1; }
  rm -rf "$dir" && mkdir -p "$dir"
  for f in deploy/janus/*.jcfg; do
    sed -e "s#@CONFIGS@#$PWD/$dir#" -e "s/ws_port = 8188/ws_port = $port/" "$f" > "$dir/$(basename "$f")"
  done
}

janus_host_ip() {
  local ip
  ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  [ -n "$ip" ] || { echo "no global IPv4 address for Janus's ICE" >&2; return 1; }
  echo "$ip"
}

# Waits (up to 5 s) until Janus's WebSocket transport accepts connections on PORT.
janus_wait() {
  local port=$1
  for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  echo "Janus did not open port $port" >&2
  return 1
}
