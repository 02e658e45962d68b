# redact.sed — masks API keys in nginx's error log (sed -E).
#
# nginx's error lines quote the request line and the Referer, and neither can
# be left out or reformatted (the access log has its own redacting format,
# trainyard.conf.in). Keys reach a URL two ways: Akkio's legacy clients and
# event-stream tickets put them in the query (api_key=, ticket=; any case,
# the underscore possibly percent-encoded), and KAOS's endpoint carries one
# as its first path segment (/kaos/<key>). nginx writes its error log to
# stderr and the launcher (scripts/stack.sh, docker-compose.yml) passes it
# through `stdbuf -oL sed -E -f nginx/redact.sed` on its way to nginx-error.log.
# Output is flushed by the line; input is read in blocks, not with sed -u,
# which reads a byte per system call (about 10,000 lines a second): a flood
# of refused requests would fill the pipe and block nginx's workers.
s#/kaos/[^/?" ]+#/kaos/REDACTED#g
s#([?&](api(_|%5f)key|ticket)=)[^&" ]*#\1REDACTED#gI
