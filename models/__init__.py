"""The action model: training data (`models.synth`), the LSTM, training and evaluation."""
