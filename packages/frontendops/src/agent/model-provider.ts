/**
 * FRONTENDOPS_MODEL=provider:model → a Vercel AI SDK language model. Providers: openai, anthropic,
 * and openai-compatible (Ollama, llama.cpp, vLLM, … at FRONTENDOPS_MODEL_BASE_URL). Keys come from
 * the providers' usual variables; the key never enters the model's context.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import { badInput } from '../errors.ts';

export const MODEL_ENV = 'FRONTENDOPS_MODEL';
export const MODEL_BASE_URL_ENV = 'FRONTENDOPS_MODEL_BASE_URL';
export const MODEL_API_KEY_ENV = 'FRONTENDOPS_MODEL_API_KEY';

export interface ModelSpec {
  provider: 'openai' | 'anthropic' | 'openai-compatible';
  model: string;
  /** "provider:model", as recorded in the audit log (planner "model:<id>"). */
  id: string;
}

/** The configured model, or null when FRONTENDOPS_MODEL is unset (the runbook planner then answers). */
export function readModelSpec(env: NodeJS.ProcessEnv = process.env): ModelSpec | null {
  const value = env[MODEL_ENV]?.trim();
  if (!value) return null;
  const match = value.match(/^(openai|anthropic|openai-compatible):(.+)$/);
  if (!match?.[1] || !match[2]) {
    throw badInput(
      `${MODEL_ENV}="${value}" is not a model: expected provider:model with provider openai, anthropic or ` +
        `openai-compatible, e.g. "openai:gpt-4.1", "anthropic:claude-sonnet-4-5" or "openai-compatible:llama3.1" ` +
        `(with ${MODEL_BASE_URL_ENV}). Unset it to use the runbook planner.`,
    );
  }
  return { provider: match[1] as ModelSpec['provider'], model: match[2], id: value };
}

export function createLanguageModel(spec: ModelSpec, env: NodeJS.ProcessEnv = process.env): LanguageModel {
  const baseURL = env[MODEL_BASE_URL_ENV];
  switch (spec.provider) {
    case 'openai':
      return createOpenAI({
        ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
        ...(baseURL ? { baseURL } : {}),
      }).chat(spec.model);
    case 'anthropic':
      return createAnthropic({
        ...(env.ANTHROPIC_API_KEY ? { apiKey: env.ANTHROPIC_API_KEY } : {}),
        ...(baseURL ? { baseURL } : {}),
      })(spec.model);
    case 'openai-compatible': {
      if (!baseURL) {
        throw badInput(
          `${MODEL_ENV}=${spec.id} needs ${MODEL_BASE_URL_ENV}, the server's OpenAI-compatible API root, e.g. ` +
            'http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8080/v1 (llama.cpp).',
        );
      }
      const apiKey = env[MODEL_API_KEY_ENV];
      return createOpenAICompatible({
        name: 'openai-compatible',
        baseURL,
        ...(apiKey ? { apiKey } : {}),
      }).chatModel(spec.model);
    }
  }
}
