# The upstream nginx-prometheus-exporter image is FROM scratch: no shell, so no healthcheck can
# run in it. Same binary on busybox, which brings `wget` for the check.
FROM nginx/nginx-prometheus-exporter:1.4.1 AS exporter
FROM busybox:1.37
COPY --from=exporter /usr/bin/nginx-prometheus-exporter /usr/bin/nginx-prometheus-exporter
USER 65534:65534
EXPOSE 9113
ENTRYPOINT ["/usr/bin/nginx-prometheus-exporter"]
