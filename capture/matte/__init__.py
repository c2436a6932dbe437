"""A tracked frame's matte, from a segmentation network's person confidence to what the avatar models:

    refine.py         the person confidence -> an alpha matte that follows the frame
    components.py     only the matte's pieces that are the person's head
    head_mask.py      the whole head with its hair, cut below it along the rig (the cut's vertices)
    hanging_hair.py   hair hanging below the head's sides, kept
"""
