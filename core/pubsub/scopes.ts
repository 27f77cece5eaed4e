// Topic scoping from the component's metadata (Dapr pkg/scopes and IsOperationAllowed):
// publishingScopes / subscriptionScopes (`app1=t1,t2;app2=t3`), allowedTopics, protectedTopics.
import { meta } from '../component.js';

export interface TopicScopes {
  /** Topics this app may publish to; undefined when the app has no publishing scope. */
  publish: ReadonlySet<string> | undefined;
  subscribe: ReadonlySet<string> | undefined;
  allowed: ReadonlySet<string>;
  protectedTopics: ReadonlySet<string>;
}

function list(text: string | undefined): string[] {
  if (!text) return [];
  return text.replace(/\s/g, '').split(',').filter(Boolean);
}

function scopesFor(text: string | undefined, appId: string): Set<string> | undefined {
  if (!text) return undefined;
  for (const part of text.replace(/\s/g, '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq) === appId) {
      const topics = list(part.slice(eq + 1));
      return topics.length > 0 ? new Set(topics) : undefined;
    }
  }
  return undefined;
}

export function readScopes(md: Readonly<Record<string, string>>, appId: string): TopicScopes {
  return {
    publish: scopesFor(meta(md, 'publishingScopes'), appId),
    subscribe: scopesFor(meta(md, 'subscriptionScopes'), appId),
    allowed: new Set(list(meta(md, 'allowedTopics'))),
    protectedTopics: new Set(list(meta(md, 'protectedTopics'))),
  };
}

/** Dapr's rule: allowedTopics first; unprotected topics are open unless the app has a scope list. */
export function isTopicAllowed(s: TopicScopes, op: 'publish' | 'subscribe', topic: string): boolean {
  if (s.allowed.size > 0 && !s.allowed.has(topic)) return false;
  const scoped = op === 'publish' ? s.publish : s.subscribe;
  if (!scoped && !s.protectedTopics.has(topic)) return true;
  return scoped?.has(topic) ?? false;
}
