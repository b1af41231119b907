#!/bin/sh
# Like the official image: without a config file Redis starts in protected mode and refuses
# every client that is not on loopback, which in a container is every client.
set -e
if [ "$1" = "redis-server" ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
