# TRAIN_IMAGE: the main environment plus JAX's CUDA 12 plugin; train and evaluate run on GPU
# nodes with KERAS_BACKEND=jax. The lock holds CPU-only wheels (tensorflow-cpu, jax): the CUDA
# plugin (with its nvidia-* wheels, about 3 GB) is added here, at the locked jax version, so no
# other image carries it. TensorFlow stays on CPU (it only feeds data).
ARG LIGHT
FROM ${LIGHT}
ARG EXTRA_CA_PEM=""
USER 0
RUN jax_version=$(python -c 'import jax; print(jax.__version__)') \
 && with-build-ca uv pip install --python /opt/venv/bin/python "jax[cuda12]==${jax_version}"
ENV KERAS_BACKEND=jax
USER 10001:10001
