print("pipeserve")
