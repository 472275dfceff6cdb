"""Sphinx configuration of the course website (`make book`): Jupyter Book 1's stack, offline.

Built from build/book-src/ (book/prepare.py copies the committed executed notebooks there), never
re-executing a notebook. MathJax is served from the site (sphinx-mathjax-offline), so the folder
displays from a USB stick (file://) with no network.
"""
project = "mmlab: multimodal embeddings, hands-on"
author = "the mmlab authors"
extensions = ["myst_nb", "sphinx-mathjax-offline"]
nb_execution_mode = "off"            # the committed outputs are the book; nothing is re-run
nb_merge_streams = True
myst_heading_anchors = 3             # "teaching.md#a-heading" links, as on GitHub
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "files/**"]
html_theme = "sphinx_book_theme"
html_title = "mmlab"
html_extra_path = ["files"]          # the notebooks and their student copies, downloadable as they are
html_theme_options = {
    "use_download_button": False,    # its menu links to a notebook's source path; ours are per page
    "show_toc_level": 2,
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
# The theme reads its light/dark mode from localStorage; from file:// with none stored it logs a
# console error ("invalid theme mode") unless a default is given.
html_context = {"default_mode": "light"}
