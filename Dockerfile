# The Fleetward controller. Build: docker build -t fleetward .
# Run:   docker run -p 127.0.0.1:8080:8080 -v fleetward-data:/var/lib/fleetward \
#          fleetward serve --repo https://git.example.com/msp/fleet.git --listen 0.0.0.0:8080 \
#          --allow-insecure-http        # only behind a TLS-terminating proxy
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install --no-install-recommends -y git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/fleetward --create-home fleetward

WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY controller ./controller
COPY agent ./agent
COPY examples ./examples
COPY fleet-repo-template ./fleet-repo-template
RUN pip install --no-cache-dir . && rm -rf /src

USER fleetward
ENV FLEETWARD_DATA_DIR=/var/lib/fleetward
VOLUME ["/var/lib/fleetward"]
EXPOSE 8080
ENTRYPOINT ["fleetward"]
CMD ["--help"]
