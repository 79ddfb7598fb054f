// The app's user-assigned managed identity: one identity for the host's storage, Cosmos DB,
// Service Bus, Application Insights, and (home tenant) Graph / Dataverse / Power Platform API.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output resourceId string = identity.id
output name string = identity.name
@description('Client (application) id: MANAGED_IDENTITY_CLIENT_ID and the __clientId of every identity-based connection.')
output clientId string = identity.properties.clientId
@description('Object (principal) id: the subject of role assignments and of the federated credential on the multi-tenant app.')
output principalId string = identity.properties.principalId
