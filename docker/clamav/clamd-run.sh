#!/bin/sh
# clamd in the foreground for `make run` (Procfile) and the tests: a config under
# $JIXIAO_VAR/clamav, a unix socket there, and the signature database directory
# CLAMAV_DB_DIR (default: the project's small test database with the EICAR signature;
# production points it at signatures kept current by freshclam or an intranet mirror).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
var=${JIXIAO_VAR:-./var}
mkdir -p "$var/clamav"
run=$(cd "$var/clamav" && pwd)
db=${CLAMAV_DB_DIR:-$here}
cat > "$run/clamd.conf" <<CONF
LocalSocket $run/clamd.sock
LocalSocketMode 660
DatabaseDirectory $db
Foreground yes
LogFile $run/clamd.log
LogTime yes
StreamMaxLength 64M
MaxFileSize 64M
CONF
rm -f "$run/clamd.sock"
exec clamd --config-file="$run/clamd.conf"
