# The mock LLM upstream: the standard library only, nothing fetched at build or run time beyond the
# base image.
FROM python:3.12-slim
COPY tests/mock_llm.py /app/mock_llm.py
EXPOSE 18080
USER nobody
CMD ["python3", "/app/mock_llm.py", "--host", "0.0.0.0", "--port", "18080"]
