# syntax=docker/dockerfile:1
#
# The demo seeder (cmd/sightline-demo), for docker-compose.yml's seed-demo job:
#
#   docker build -f deploy/docker/demo.Dockerfile -t sightline/demo .
#   docker run --rm -e AUTH_KEYS=... -e VIS_ADDR=... -e MAILBOX_ADDR=... sightline/demo
#
# It seeds company 1 through the services' gRPC APIs (idempotent) and prints the
# demo's tokens and grpcurl commands. Runs as the distroless non-root user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/sightline-demo ./cmd/sightline-demo

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="sightline-demo" \
      org.opencontainers.image.source="https://github.com/sightline/sightline"
COPY --from=build /out/sightline-demo /usr/local/bin/sightline-demo
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sightline-demo"]
