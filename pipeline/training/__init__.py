"""Training, beside the flow: examples (training groups), the trainer and its flags, the losses,
the teacher's soft labels, LM distillation, the procedures, ensemble fitting, and the default
build's recipe.
"""
