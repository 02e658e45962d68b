# Dockerfile — one image for every trainyard service (api, trainer, nginx, the
# migrate one-shot); docker-compose.yml picks the command. Debian 12, like the
# local stack, so the libraries are the same ones `make deps` installs.

FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libfcgi-dev libjson-c-dev libxml2-dev libpq-dev libarchive-dev libssl-dev libxgboost-dev \
      nodejs npm \
      libcurl4-openssl-dev libseccomp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The web console (web/build.sh: npm ci from the lock file, then the assets).
RUN make -j"$(nproc)" programs web BUILD=/src/build

# Runtime: the libraries the programs link (pkg-config's list in the
# Makefile), nginx, and what the local stack's trainer host has (deps.sh):
# bubblewrap and the Python a KAOS source bundle trains with (the sandbox
# runner, trainer/sandbox.c), and python3-xgboost for the Python scorer
# shipped beside trainyard-score.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libfcgi0ldbl libjson-c5 libxml2 libpq5 libarchive13 libssl3 libxgboost0 libcurl4 \
      libseccomp2 bubblewrap python3 python3-xgboost python3-numpy python3-pandas \
      python3-sklearn \
      nginx-light postgresql-client ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# Every program of the Makefile's PROGRAMS (tests/e2e/test_compose.py checks
# the two lists agree): the API, the trainer, the admin/user CLI and the C
# scorer for downloaded models.
COPY --from=build /src/build/trainyard /src/build/trainyard-api /src/build/trainyard-trainer \
     /src/build/trainyard-score /opt/trainyard/bin/
# The portable scorer as the checkout has it (scorer/README.md,
# trainyard_scorer.py), for scoring a download inside the image.
COPY scorer/ /opt/trainyard/scorer/
COPY sql/ /opt/trainyard/sql/
COPY nginx/ /opt/trainyard/nginx/
# The console replaces the plain page nginx/www holds.
COPY --from=build /src/build/www/ /opt/trainyard/nginx/www/
ENV PATH=/opt/trainyard/bin:$PATH \
    TRAINYARD_SQL_DIR=/opt/trainyard/sql
# Every service runs unprivileged: `trainyard` (api, trainer, migrate) is in
# group www-data so that the API socket (0660, group www-data) reaches nginx,
# which runs as www-data. The API socket lives on a volume shared with the
# nginx container; a fresh named volume takes these owners and modes.
RUN useradd --system --uid 10001 --user-group --groups www-data --home-dir /nonexistent \
      --shell /usr/sbin/nologin trainyard \
 && mkdir -p /run/trainyard /var/lib/trainyard/nginx/tmp /var/log/trainyard \
 && chown trainyard:www-data /run/trainyard && chmod 0770 /run/trainyard \
 && chown -R www-data:www-data /var/lib/trainyard/nginx /var/log/trainyard
USER trainyard
WORKDIR /opt/trainyard
EXPOSE 8080
CMD ["trainyard-api"]
