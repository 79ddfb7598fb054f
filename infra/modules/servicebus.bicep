// Service Bus, the production event transport (EVENT_QUEUE_TRANSPORT=servicebus). Standard tier:
// duplicate detection needs Standard or Premium, and it can only be switched on when a queue is
// created, so the queue is declared here with it on, never created by the app.

@description('Namespace name: 6-50 letters, digits and hyphens, starting with a letter.')
param name string

param location string
param tags object = {}

@description('The event queue (shared/events/queues.ts EVENTS_QUEUE).')
param queueName string

@description('Principal id of the app\'s managed identity.')
param principalId string

@description('How long Service Bus remembers message ids: a producer re-sending an event within it is dropped (ISO 8601, 20 s to 7 days).')
param duplicateDetectionHistoryTimeWindow string = 'PT1H'

@description('Deliveries before Service Bus dead-letters a message. The app re-enqueues transient failures itself, so this only bounds crashes and abandons.')
@minValue(1)
param maxDeliveryCount int = 10

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionHistoryTimeWindow
    deadLetteringOnMessageExpiration: true
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: 'P14D'
    lockDuration: 'PT1M'
    requiresSession: false
    enablePartitioning: false
  }
}

// Azure Service Bus Data Owner, scoped to this one queue. The app sends to and receives from the
// queue (Sender + Receiver would do for that), but Functions' scale controller reads the queue's
// message count with the trigger's identity, which needs Manage rights; the Functions Service Bus
// docs list Data Owner for the trigger for this reason.
var serviceBusDataOwnerRoleId = '090c5cfd-751d-490a-894a-3ce6f1109419'

resource queueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, principalId, serviceBusDataOwnerRoleId)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwnerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = namespace.name
@description('EventServiceBus__fullyQualifiedNamespace, e.g. sb-xyz.servicebus.windows.net')
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
