"""Control Tower: the domain core. Imports neither Streamlit nor LangChain."""

__version__ = "0.1.0"
