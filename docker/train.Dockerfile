# The train image: the light image plus the train extra (TensorFlow on CPU feeds the data) and JAX's
# CUDA 12 plugin; train and evaluate run on GPU nodes with KERAS_BACKEND=jax. The lock holds
# CPU-only wheels (tensorflow-cpu, jax): the CUDA plugin (with its nvidia-* wheels, about 3 GB) is
# added here, at the locked jax version, so no other image carries it.
ARG LIGHT
FROM ${LIGHT}
ARG EXTRA_CA_PEM=""
USER 0
RUN with-build-ca uv sync --frozen --no-dev --extra train
RUN jax_version=$(python -c 'import jax; print(jax.__version__)') \
 && with-build-ca uv pip install --python /opt/venv/bin/python "jax[cuda12]==${jax_version}"
USER 10001:10001
