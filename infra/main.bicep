// The licensing control plane in Azure: `azd up` deploys this (subscription scope: it creates the
// resource group), then the app package. See docs/deploy.md.
//
// Two lists here mirror the code and test/unit/infra/infra-in-step.test.ts keeps them in step:
// `cosmosContainers` (shared/storage/containers.ts) and `appSettings` (the keys of
// shared/config/config.ts, plus a short allow-list of host-owned settings).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; resource names derive from it.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('AUTH_AUDIENCES: accepted `aud` values of incoming tokens, comma-separated (the API app registration\'s client id and/or app id URI).')
param authAudiences string

@description('MS_API_CLIENT_ID: client id of the multi-tenant app registration whose federated credential is the managed identity, for calling other tenants. Empty: the managed identity itself (home tenant only).')
param msApiClientId string = ''

@description('ENTRA_EXTENSION_AUDIENCES: `aud` of the tokens the Entra custom authentication extension (E1) sends, i.e. its app registration\'s id or app id URI. Empty: E1 refuses every call.')
param entraExtensionAudiences string = ''

@description('SIGNIN_POLL_ENABLED: read Entra sign-in logs for first sign-ins (E2; needs Entra ID P1 and AuditLog.Read.All).')
param signInPollEnabled bool = false

@description('EVENT_QUEUE_TRANSPORT: Service Bus (production) or Storage queues.')
@allowed([
  'servicebus'
  'storage'
])
param eventQueueTransport string = 'servicebus'

@description('Cosmos DB serverless (default) or provisioned autoscale throughput. Fixed once the account exists.')
param cosmosServerless bool = true

@description('COSMOS_DATABASE')
param cosmosDatabaseName string = 'licensing'

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var useServiceBus = eventQueueTransport == 'servicebus'

// shared/events/queues.ts EVENTS_QUEUE; the storage transport's poison queue is `<name>-poison`.
var eventsQueueName = 'events'
// shared/events/queues.ts SYNC_JOBS_QUEUE: the sync's job queue, on the same transport.
var syncJobsQueueName = 'sync-jobs'

// shared/storage/containers.ts CONTAINERS: every container with its partition key, no others.
// To add a container, add it there and here (optional `defaultTtl`, seconds, mirrors defaultTtlSeconds).
var cosmosContainers = [
  {
    name: 'tenants'
    partitionKeyPath: '/id'
  }
  {
    name: 'settings'
    partitionKeyPath: '/tenantId'
  }
  {
    name: 'audit'
    partitionKeyPath: '/partitionKey'
  }
  {
    name: 'events'
    partitionKeyPath: '/partitionKey'
    defaultTtl: 8640000
  }
  {
    name: 'failures'
    partitionKeyPath: '/partitionKey'
  }
  {
    name: 'leases'
    partitionKeyPath: '/id'
    defaultTtl: -1
  }
  {
    name: 'catalog'
    partitionKeyPath: '/tenantId'
  }
  {
    name: 'usage'
    partitionKeyPath: '/tenantId'
  }
  {
    name: 'reports'
    partitionKeyPath: '/tenantId'
  }
  {
    name: 'policies'
    partitionKeyPath: '/tenantId'
  }
  {
    name: 'autoclaim'
    partitionKeyPath: '/tenantId'
  }
  {
    name: 'sync'
    partitionKeyPath: '/partitionKey'
  }
  {
    name: 'sync-chunks'
    partitionKeyPath: '/partitionKey'
  }
  {
    name: 'alerts'
    partitionKeyPath: '/tenantId'
    defaultTtl: 15552000
  }
]

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${functionAppName}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    queueNames: [
      eventsQueueName
      '${eventsQueueName}-poison'
      syncJobsQueueName
      '${syncJobsQueueName}-poison'
    ]
    principalId: identity.outputs.principalId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    accountName: 'cosmos-${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    serverless: cosmosServerless
    containers: cosmosContainers
    dataContributorPrincipalId: identity.outputs.principalId
  }
}

module serviceBus 'modules/servicebus.bicep' = if (useServiceBus) {
  name: 'serviceBus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    queueName: eventsQueueName
    principalId: identity.outputs.principalId
  }
}

module serviceBusSyncJobsQueue 'modules/servicebus-queue.bicep' = if (useServiceBus) {
  name: 'serviceBusSyncJobsQueue'
  scope: rg
  params: {
    namespaceName: serviceBus.?outputs.name ?? ''
    queueName: syncJobsQueueName
    principalId: identity.outputs.principalId
  }
}

// Every app setting. Keys are the config schema's (shared/config/config.ts) or host-owned
// (AzureWebJobsStorage__*, APPLICATIONINSIGHTS_*, the __credential/__clientId of the trigger
// connections). Never set here: COSMOS_KEY, COSMOS_BOOTSTRAP, MS_API_CLIENT_SECRET
// (local-only), ENTRA_AUTHORITY_HOST / GRAPH_BASE_URL / POWER_PLATFORM_API_URL (Microsoft defaults),
// FUNCTIONS_WORKER_RUNTIME and the other settings Flex Consumption deprecates.
var appSettings = union(
  {
    // The host's own storage, identity-based: shared keys are off, so no connection string.
    AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
    AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
    AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.outputs.clientId
    // Telemetry with Entra ID auth (the component has local auth off).
    APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identity.outputs.clientId}'
    // DefaultAzureCredential (Cosmos, queues) picks the user-assigned identity from this.
    APP_ENV: 'azure'
    COSMOS_ENDPOINT: cosmos.outputs.endpoint
    COSMOS_DATABASE: cosmosDatabaseName
    AUTH_AUDIENCES: authAudiences
    MS_API_AUTH: empty(msApiClientId) ? 'managed-identity' : 'federated-app'
    MANAGED_IDENTITY_CLIENT_ID: identity.outputs.clientId
    EVENT_QUEUE_TRANSPORT: eventQueueTransport
    // The worker's Node.js flags (local/worker-arguments.ts says why; the local host uses the same).
    languageWorkers__node__arguments: '--no-memory-reducer'
  },
  empty(msApiClientId) ? {} : { MS_API_CLIENT_ID: msApiClientId },
  empty(entraExtensionAudiences) ? {} : { ENTRA_EXTENSION_AUDIENCES: entraExtensionAudiences },
  { SIGNIN_POLL_ENABLED: signInPollEnabled ? 'true' : 'false' },
  useServiceBus
    ? {
        EventServiceBus__fullyQualifiedNamespace: serviceBus.?outputs.fullyQualifiedNamespace ?? ''
        EventServiceBus__credential: 'managedidentity'
        EventServiceBus__clientId: identity.outputs.clientId
      }
    : {
        EventQueueStorage__queueServiceUri: storage.outputs.queueEndpoint
        EventQueueStorage__credential: 'managedidentity'
        EventQueueStorage__clientId: identity.outputs.clientId
      }
)

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityResourceId: identity.outputs.resourceId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    appSettings: appSettings
  }
}

// Outputs land in the azd environment (.azure/<env>/.env); names follow the app settings.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
@description('Object id of the managed identity: grant it Graph app roles and use it as the federated credential subject.')
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmosDatabaseName
output EVENT_QUEUE_TRANSPORT string = eventQueueTransport
output EventServiceBus__fullyQualifiedNamespace string = useServiceBus ? (serviceBus.?outputs.fullyQualifiedNamespace ?? '') : ''
output EventQueueStorage__queueServiceUri string = storage.outputs.queueEndpoint
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
