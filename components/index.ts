// Every backend bulwark ships, one line each.
import { createInMemoryPubSub } from './pubsub/in-memory.js';
import { createSqlitePubSub } from './pubsub/sqlite.js';
import { createJetStreamPubSub } from './pubsub/jetstream.js';
import { createMqttPubSub } from './pubsub/mqtt3.js';
import { createRabbitMqPubSub } from './pubsub/rabbitmq.js';
import { createRedisPubSub } from './pubsub/redis.js';
import { createCronBinding } from './bindings/cron.js';
import { createHttpBinding } from './bindings/http.js';
import { createLocalStorageBinding } from './bindings/localstorage.js';
import { createMqttBinding } from './bindings/mqtt3.js';
import { createPostgresBinding } from './bindings/postgresql.js';
import { createRabbitMqBinding } from './bindings/rabbitmq.js';
import { createRedisBinding } from './bindings/redis.js';
import { createPostgresConfigurationStore } from './configuration/postgresql.js';
import { createRedisConfigurationStore } from './configuration/redis.js';
import { createSqliteConfigurationStore } from './configuration/sqlite.js';
import { createRedisLock } from './lock/redis.js';
import { createSqliteLock } from './lock/sqlite.js';
import { createEchoConversation } from './conversation/echo.js';
import { createOpenAiConversation } from './conversation/openai.js';
import { createJwksCrypto } from './crypto/jwks.js';
import { createLocalStorageCrypto } from './crypto/localstorage.js';
import { ComponentRegistry } from './registry.js';
import { createLocalEnvSecretStore } from './secretstores/local-env.js';
import { createLocalFileSecretStore } from './secretstores/local-file.js';
import { createInMemoryStateStore } from './state/in-memory.js';
import { createPostgresStateStore } from './state/postgresql.js';
import { createPostgresV2StateStore } from './state/postgresql-v2.js';
import { createRedisStateStore } from './state/redis.js';
import { createSqliteStateStore } from './state/sqlite.js';

export function builtinComponents(): ComponentRegistry {
  return new ComponentRegistry()
    .register('state', ['state.in-memory'], createInMemoryStateStore)
    .register('state', ['state.sqlite', 'state.sqlite3'], createSqliteStateStore)
    .register('state', ['state.redis'], createRedisStateStore)
    .register('state', ['state.postgresql', 'state.postgres'], createPostgresStateStore)
    .register('state', ['state.postgresql/v2', 'state.postgres/v2'], createPostgresV2StateStore)
    .register('pubsub', ['pubsub.redis'], createRedisPubSub)
    .register('pubsub', ['pubsub.jetstream'], createJetStreamPubSub)
    .register('pubsub', ['pubsub.rabbitmq'], createRabbitMqPubSub)
    .register('pubsub', ['pubsub.mqtt3', 'pubsub.mqtt'], createMqttPubSub)
    .register('secretstores', ['secretstores.local.file'], createLocalFileSecretStore)
    .register('secretstores', ['secretstores.local.env'], createLocalEnvSecretStore)
    .register('pubsub', ['pubsub.in-memory'], createInMemoryPubSub)
    .register('pubsub', ['pubsub.sqlite'], createSqlitePubSub)
    .register('lock', ['lock.redis'], createRedisLock)
    .register('lock', ['lock.sqlite'], createSqliteLock)
    .register('configuration', ['configuration.redis'], createRedisConfigurationStore)
    .register('configuration', ['configuration.postgresql', 'configuration.postgres'], createPostgresConfigurationStore)
    .register('configuration', ['configuration.sqlite'], createSqliteConfigurationStore)
    .register('bindings', ['bindings.cron'], createCronBinding)
    .register('bindings', ['bindings.http'], createHttpBinding)
    .register('bindings', ['bindings.localstorage'], createLocalStorageBinding)
    .register('bindings', ['bindings.redis'], createRedisBinding)
    .register('bindings', ['bindings.postgresql', 'bindings.postgres'], createPostgresBinding)
    .register('bindings', ['bindings.rabbitmq'], createRabbitMqBinding)
    .register('bindings', ['bindings.mqtt3', 'bindings.mqtt'], createMqttBinding)
    .register('crypto', ['crypto.dapr.localstorage'], createLocalStorageCrypto)
    .register('crypto', ['crypto.dapr.jwks'], createJwksCrypto)
    .register('conversation', ['conversation.echo'], createEchoConversation)
    .register('conversation', ['conversation.openai'], createOpenAiConversation);
}
