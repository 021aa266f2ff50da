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

/**
 * The configured model, or null when FRONTENDOPS_MODEL is unset (the runbook planner then answers).
 * Set but empty (an unset shell variable in `FRONTENDOPS_MODEL=$MODEL` gives one) is a mistake, as
 * FRONTENDOPS_STACK and FRONTENDOPS_CONFIG take it: never read as "no model".
 */
export function readModelSpec(env: NodeJS.ProcessEnv = process.env): ModelSpec | null {
  const given = env[MODEL_ENV];
  if (given === undefined) return null;
  const value = given.trim();
  if (value === '') {
    throw badInput(
      `${MODEL_ENV} is set but empty: expected provider:model, e.g. "openai:gpt-4.1". Nothing was done: set it to the model, or unset it (\`unset ${MODEL_ENV}\`) to use the runbook planner.`,
    );
  }
  const match = value.match(/^(openai|anthropic|openai-compatible):(.+)$/);
  if (!match?.[1] || !match[2]) {
    throw badInput(
      `${MODEL_ENV}="${value}" is not a model: expected provider:model with provider openai, anthropic or ` +
        `openai-compatible, e.g. "openai:gpt-4.1", "anthropic:claude-sonnet-4-5" or "openai-compatible:llama3.1" ` +
        `(with ${MODEL_BASE_URL_ENV}). Unset it to use the runbook planner.`,
    );
  }
  // Recorded with every request as its planner ("model:<provider:model>", at most 100 characters).
  if (!MODEL_NAME.test(match[2]) || value.length > 94) {
    throw badInput(
      `${MODEL_ENV}="${value.slice(0, 120)}" names no model I can record: after "${match[1]}:" expected the provider's model name, ` +
        'letters, digits and . _ / : - only (no spaces), at most 94 characters in all, e.g. "openai:gpt-4.1". Unset it to use the runbook planner.',
    );
  }
  return { provider: match[1] as ModelSpec['provider'], model: match[2], id: value };
}

/** A provider's model name, as the planner's name in the audit log can hold it. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9:._/-]*$/;

/**
 * FRONTENDOPS_MODEL_BASE_URL, checked before anything is sent: required for an openai-compatible
 * server, and when set an http(s) address (undefined: the provider's own).
 */
export function modelBaseUrl(spec: ModelSpec, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const baseURL = env[MODEL_BASE_URL_ENV]?.trim();
  if (!baseURL) {
    if (spec.provider !== 'openai-compatible') return undefined;
    throw badInput(
      `${MODEL_ENV}=${spec.id} needs ${MODEL_BASE_URL_ENV}, the server's OpenAI-compatible API root, e.g. ` +
        'http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8080/v1 (llama.cpp).',
    );
  }
  let url: URL | null = null;
  try {
    url = new URL(baseURL);
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw badInput(
      `${MODEL_BASE_URL_ENV} is not an http(s) address: expected the API root, e.g. http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1. Nothing was sent.`,
    );
  }
  return baseURL;
}

/** The variable each provider's key is read from (openai-compatible servers may need none). */
export const KEY_ENV: Record<ModelSpec['provider'], string> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  'openai-compatible': MODEL_API_KEY_ENV,
};

/**
 * The provider's key, checked before anything is sent: a missing or empty key is one clear
 * sentence naming the variable to set, never a request that fails (and is retried) later.
 */
export function requireModelKey(spec: ModelSpec, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = KEY_ENV[spec.provider];
  const key = env[name]?.trim();
  if (key) return key;
  if (spec.provider === 'openai-compatible') return undefined;
  throw badInput(
    `${MODEL_ENV}=${spec.id} needs ${name}, which is ${env[name] === undefined ? 'not set' : 'empty'}: set ${name} to your ${spec.provider === 'openai' ? 'OpenAI' : 'Anthropic'} API key, or unset ${MODEL_ENV} to use the runbook planner.`,
  );
}

export function createLanguageModel(spec: ModelSpec, env: NodeJS.ProcessEnv = process.env): LanguageModel {
  const baseURL = modelBaseUrl(spec, env);
  switch (spec.provider) {
    case 'openai':
      return createOpenAI({
        apiKey: requireModelKey(spec, env) as string,
        ...(baseURL ? { baseURL } : {}),
      }).chat(spec.model);
    case 'anthropic':
      return createAnthropic({
        apiKey: requireModelKey(spec, env) as string,
        ...(baseURL ? { baseURL } : {}),
      })(spec.model);
    case 'openai-compatible': {
      const apiKey = requireModelKey(spec, env);
      return createOpenAICompatible({
        name: 'openai-compatible',
        baseURL: baseURL as string,
        ...(apiKey ? { apiKey } : {}),
      }).chatModel(spec.model);
    }
  }
}
