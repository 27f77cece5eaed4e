// Every backend bulwark ships, one line each. Each module (and its driver: ioredis, pg, nats,
// amqplib, mqtt, better-sqlite3, jose...) is imported on the first build of a component of that
// type, so a sidecar loads, and holds in memory, only the drivers its resources use.
import { ComponentRegistry, lazy } from './registry.js';

export function builtinComponents(): ComponentRegistry {
  return new ComponentRegistry()
    .register('state', ['state.in-memory'], lazy(() => import('./state/in-memory.js'), (m) => m.createInMemoryStateStore))
    .register('state', ['state.sqlite', 'state.sqlite3'], lazy(() => import('./state/sqlite.js'), (m) => m.createSqliteStateStore))
    .register('state', ['state.redis'], lazy(() => import('./state/redis.js'), (m) => m.createRedisStateStore))
    .register('state', ['state.postgresql', 'state.postgres'], lazy(() => import('./state/postgresql.js'), (m) => m.createPostgresStateStore))
    .register('state', ['state.postgresql/v2', 'state.postgres/v2'], lazy(() => import('./state/postgresql-v2.js'), (m) => m.createPostgresV2StateStore))
    .register('pubsub', ['pubsub.redis'], lazy(() => import('./pubsub/redis.js'), (m) => m.createRedisPubSub))
    .register('pubsub', ['pubsub.jetstream'], lazy(() => import('./pubsub/jetstream.js'), (m) => m.createJetStreamPubSub))
    .register('pubsub', ['pubsub.rabbitmq'], lazy(() => import('./pubsub/rabbitmq.js'), (m) => m.createRabbitMqPubSub))
    .register('pubsub', ['pubsub.mqtt3', 'pubsub.mqtt'], lazy(() => import('./pubsub/mqtt3.js'), (m) => m.createMqttPubSub))
    .register('secretstores', ['secretstores.local.file'], lazy(() => import('./secretstores/local-file.js'), (m) => m.createLocalFileSecretStore))
    .register('secretstores', ['secretstores.local.env'], lazy(() => import('./secretstores/local-env.js'), (m) => m.createLocalEnvSecretStore))
    .register('pubsub', ['pubsub.in-memory'], lazy(() => import('./pubsub/in-memory.js'), (m) => m.createInMemoryPubSub))
    .register('pubsub', ['pubsub.sqlite'], lazy(() => import('./pubsub/sqlite.js'), (m) => m.createSqlitePubSub))
    .register('lock', ['lock.redis'], lazy(() => import('./lock/redis.js'), (m) => m.createRedisLock))
    .register('lock', ['lock.sqlite'], lazy(() => import('./lock/sqlite.js'), (m) => m.createSqliteLock))
    .register('configuration', ['configuration.redis'], lazy(() => import('./configuration/redis.js'), (m) => m.createRedisConfigurationStore))
    .register('configuration', ['configuration.postgresql', 'configuration.postgres'], lazy(() => import('./configuration/postgresql.js'), (m) => m.createPostgresConfigurationStore))
    .register('configuration', ['configuration.sqlite'], lazy(() => import('./configuration/sqlite.js'), (m) => m.createSqliteConfigurationStore))
    .register('bindings', ['bindings.cron'], lazy(() => import('./bindings/cron.js'), (m) => m.createCronBinding))
    .register('bindings', ['bindings.http'], lazy(() => import('./bindings/http.js'), (m) => m.createHttpBinding))
    .register('bindings', ['bindings.localstorage'], lazy(() => import('./bindings/localstorage.js'), (m) => m.createLocalStorageBinding))
    .register('bindings', ['bindings.redis'], lazy(() => import('./bindings/redis.js'), (m) => m.createRedisBinding))
    .register('bindings', ['bindings.postgresql', 'bindings.postgres'], lazy(() => import('./bindings/postgresql.js'), (m) => m.createPostgresBinding))
    .register('bindings', ['bindings.rabbitmq'], lazy(() => import('./bindings/rabbitmq.js'), (m) => m.createRabbitMqBinding))
    .register('bindings', ['bindings.mqtt3', 'bindings.mqtt'], lazy(() => import('./bindings/mqtt3.js'), (m) => m.createMqttBinding))
    .register('crypto', ['crypto.dapr.localstorage'], lazy(() => import('./crypto/localstorage.js'), (m) => m.createLocalStorageCrypto))
    .register('crypto', ['crypto.dapr.jwks'], lazy(() => import('./crypto/jwks.js'), (m) => m.createJwksCrypto))
    .register('conversation', ['conversation.echo'], lazy(() => import('./conversation/echo.js'), (m) => m.createEchoConversation))
    .register('conversation', ['conversation.openai'], lazy(() => import('./conversation/openai.js'), (m) => m.createOpenAiConversation));
}
