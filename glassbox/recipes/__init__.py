"""Runnable recipes: each trains one model on real data and writes its numbers and pictures to a run directory."""

from . import (
    cartpole_dqn,
    cartpole_pg,
    cifar10_resnet,
    diabetes_mlp,
    digits_autoencoder,
    digits_cnn,
    digits_dbn,
    digits_gan,
    digits_mlp,
    digits_nas,
    digits_rbm,
    digits_transfer,
    digits_vae,
    fashion_cnn,
    highway_dqn,
    iris_perceptron,
    mnist_cnn,
    seq2seq_dates,
    sequence_bilstm,
    shapes_segmentation,
    text_lstm,
    word2vec,
    xor_mlp,
)

# name -> module with NAME, DESCRIPTION, DEFAULT_EPOCHS and run(config) -> metrics dict, in the order `glassbox list`
# shows them: the embedded data sets first, then the generated ones, the Gymnasium environments (the `rl` extra),
# then those that need a download.
RECIPES = {module.NAME: module for module in (digits_cnn, digits_mlp, diabetes_mlp, iris_perceptron, xor_mlp,
                                              digits_transfer, digits_autoencoder, digits_vae, digits_rbm, digits_dbn,
                                              digits_gan, digits_nas, highway_dqn, shapes_segmentation, word2vec,
                                              text_lstm, sequence_bilstm, seq2seq_dates, cartpole_dqn, cartpole_pg,
                                              mnist_cnn, fashion_cnn, cifar10_resnet)}
DEFAULT_RECIPE = digits_cnn.NAME
