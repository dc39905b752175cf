# The Debian package: `cmake --build build --target package` writes build/vlmscope_VERSION_ARCH.deb.
# Its dependencies are the Debian packages of the shared libraries the binary links (found by
# dpkg-shlibdeps), plus OpenBLAS, which LibTorch reaches through libblas.so.3 and which makes it
# ~20x faster than the reference BLAS (PLATFORM_NOTES).

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vlmscope)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "VLMScope")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "explain vision-language models (BLIP, BLIP VQA, CLIP)")
set(CPACK_PACKAGE_DESCRIPTION [=[VLMScope is a native workbench that explains vision-language models: caption an image with
BLIP or ask BLIP VQA a question, click a word of the answer and see why the model said it
(Grad-CAM on any vision layer, cross-attention, integrated gradients, Shapley values over
patches, superpixels or semantic regions); hide regions and regenerate; check image-text
alignment with CLIP; export layer-by-layer videos. Hugging Face checkpoints load as they are;
small demo models trained on a synthetic shapes world are included. The same engine runs
headless from the command line.]=])
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "VLMScope developers <vlmscope@invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
# The bundled models and tokenizers make a package of a few MB; xz keeps it small.
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
