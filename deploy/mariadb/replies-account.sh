#!/bin/sh
# The reply workers' database account: they read a subject's karma before announcing a value their
# channel may have been told a newer one of (botgateway/delivery.py), and may change nothing.
# The mariadb image runs this once, when its volume is new (docker-compose.yml mounts this folder
# in /docker-entrypoint-initdb.d); for a database made earlier, run the two statements by hand.
set -eu
mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" <<SQL
CREATE USER IF NOT EXISTS 'popple-replies'@'%' IDENTIFIED BY '$MARIADB_REPLIES_PASSWORD';
GRANT SELECT ON popple.* TO 'popple-replies'@'%';
SQL
