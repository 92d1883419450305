# syntax=docker/dockerfile:1
# stackscope's image for a normal container engine (`docker build -t ghcr.io/stackscope/stackscope:0.1.0 .`):
# the same content `tools/images.sh` writes without one. The build stage links the operator
# statically and stages the image's files with `tools/images.sh rootfs` (the same function the
# engine-less archive uses); the config below is `tools/images.sh config` of that image, which a
# test compares with this file.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p stackscope --target x86_64-unknown-linux-gnu \
 && STACKSCOPE_STACKSCOPE_BIN=/src/target/x86_64-unknown-linux-gnu/release/stackscope \
    tools/images.sh rootfs ghcr.io/stackscope/stackscope:0.1.0 /rootfs

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 65532:65532
EXPOSE 8080/tcp
WORKDIR /
LABEL org.opencontainers.image.title="ghcr.io/stackscope/stackscope" org.opencontainers.image.version="0.1.0"
ENTRYPOINT ["/stackscope"]
CMD ["run"]
