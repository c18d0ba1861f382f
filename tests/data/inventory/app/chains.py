"""Other client libraries: LangChain chat models, Bedrock, google.genai, litellm."""

import boto3
import litellm
from google import genai
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from litellm import acompletion

llm = ChatOpenAI(model="gpt-4o-mini")
bedrock = boto3.client("bedrock-runtime")
storage = boto3.client("s3")
gemini = genai.Client()


def ask_langchain(question: str) -> object:
    return llm.invoke(question)


async def ask_claude_chain(question: str) -> object:
    chat = ChatAnthropic(model="claude-x")
    return await chat.ainvoke(question)


def ask_bedrock(body: str) -> object:
    bedrock.converse(modelId="anthropic.claude-x", messages=[])
    session = boto3.Session()
    runtime = session.client("bedrock-runtime")
    return runtime.invoke_model(modelId="x", body=body)


def not_a_model(key: str) -> object:
    return storage.invoke_model(Key=key)  # an s3 client: not a model call


def ask_gemini(question: str) -> object:
    return gemini.models.generate_content(model="gemini-x", contents=question)


async def ask_litellm(question: str) -> object:
    litellm.completion(model="gpt-4o-mini", messages=[])
    return await acompletion(model="gpt-4o-mini", messages=[])
