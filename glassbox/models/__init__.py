"""The model zoo: classic architectures with torchvision's state_dict keys, built from glassbox.nn layers, the
recurrent models of the text recipes, and the tools to load pretrained weights into them and fine-tune them."""

from .alexnet import AlexNet, alexnet
from .autoencoder import Autoencoder, ConvAutoencoder, add_noise, denoising_step
from .char_rnn import CharRNN, detach_state
from .dbn import DBN
from .gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, dcgan_init_
from .googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux, googlenet
from .lenet import LeNet5, lenet5
from .perceptron import Perceptron, PerceptronFit
from .rbm import BernoulliRBM
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .seq2seq import Encoder, Seq2Seq
from .transfer import (
    LoadError,
    LoadReport,
    freeze,
    load_pretrained,
    param_groups,
    replace_head,
    trainable_parameters,
    unfreeze,
)
from .unet import UNet, unet
from .vae import VAE, kl_divergence, reparameterize, vae_step
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = ["LeNet5", "lenet5", "AlexNet", "alexnet", "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn", "BasicConv2d", "Inception", "InceptionAux", "GoogLeNet", "googlenet",
           "BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "UNet", "unet", "CharRNN", "detach_state", "Seq2Seq", "Encoder", "Perceptron",
           "PerceptronFit", "BernoulliRBM", "DBN", "Autoencoder",
           "ConvAutoencoder", "add_noise", "denoising_step", "VAE", "kl_divergence", "reparameterize", "vae_step",
           "DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator", "dcgan_init_",
           "load_pretrained", "LoadReport", "LoadError", "freeze", "unfreeze", "trainable_parameters",
           "replace_head", "param_groups"]
